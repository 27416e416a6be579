"""What the core needs from storage: a unit of work, and the stores inside it.

The core owns these protocols; bot/storage/sqlite and bot/storage/postgres
implement them, and nothing outside bot/storage names a database driver.

A unit of work is one transaction. The work itself is a plain, synchronous
function of a `Tx` (the stores of that transaction): the core's step is pure
computation around a few reads and writes, and running all of it in one hand-off
to the database's thread costs far less than awaiting each statement (on SQLite
the hand-offs cost more CPU than the SQL). `Storage.write` runs the function,
commits, and returns its result; any error rolls everything back and reaches the
caller as one `StorageError` with a plain message.

`write(..., key=...)` also serialises work for one person across processes (on
PostgreSQL a transaction-scoped advisory lock on the key; SQLite's single writer
does it anyway), so one user's inputs are applied one at a time, in order, even
when several instances receive them.

Every method runs inside the caller's transaction; "now" for stamps is the
transaction's own time, taken once when it began. A backend may run `work` again when
the database rolled the transaction back by itself (a deadlock, a serialization failure)
or its connection was found dead before COMMIT; so `work` must have no effect outside
the `Tx` it is given.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, TypeVar

from bot.core.plan.model import Plan, PlanEvent
from bot.core.records import (
    Assessment,
    Checkin,
    DueReminder,
    Lease,
    Reminder,
    Session,
    Snapshot,
)

T = TypeVar("T")


class StorageError(RuntimeError):
    """Storage could not do what was asked; the message says why in plain words.

    Nothing of the unit of work that raised it was kept. `transient` is True for
    failures worth retrying soon (a lost connection, a server restarting, a lock
    timeout), False for ones that need a person (a full disk, a read-only file).
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class UserStore(Protocol):
    def find(self, channel: str, external_id: str) -> int | None: ...
    def get_or_create(self, channel: str, external_id: str) -> int: ...
    def address(self, user_id: int) -> tuple[str, str] | None:
        """(channel, external id) of a user."""
        ...

    def set_active(self, user_id: int, active: bool) -> None: ...
    def timezone(self, user_id: int) -> str | None: ...
    def set_timezone(self, user_id: int, zone: str) -> None: ...
    def quiet_hours(self, user_id: int) -> tuple[str, str] | None:
        """The person's quiet hours as ("HH:MM", "HH:MM"), or None for the content default."""
        ...

    def set_quiet_hours(self, user_id: int, start: str, end: str) -> None: ...
    def language(self, user_id: int) -> str | None:
        """The language to write to the person in: the one they chose with /language, else
        the one their app last reported (None only for an unknown user)."""
        ...

    def set_language(self, user_id: int, language: str, *, chosen: bool = True) -> None:
        """`chosen`: the person picked it, and it wins from now on. Otherwise it is what their
        app reports, kept for messages sent unasked, and it never replaces a choice."""
        ...

    def export(self, user_id: int) -> dict[str, Any]:
        """Everything stored about the user, as plain data (for /mydata)."""
        ...

    def delete(self, user_id: int) -> None:
        """The user and everything that belongs to them."""
        ...


class ConversationStore(Protocol):
    def load(self, channel: str, external_id: str) -> tuple[int, Snapshot]:
        """The user's id and stored conversation, creating the user on first contact."""
        ...

    def load_for(self, user_id: int) -> Snapshot: ...
    def save(self, user_id: int, before: Snapshot, after: Snapshot) -> None:
        """The conversation row and whichever answers changed since `before`."""
        ...

    def open_check(self, user_id: int, flow: str) -> int: ...
    def close_check(self, check_id: int, status: str) -> None: ...
    def save_assessment(
        self,
        user_id: int,
        check_id: int | None,
        urgency: str,
        reasons: Sequence[str],
        ball_release_allowed: bool,
        routine: str | None,
    ) -> None: ...
    def assessments(self, user_id: int) -> list[Assessment]: ...


class InboxStore(Protocol):
    def claim(self, key: str, user_id: int) -> bool:
        """Record an input by its transport key; False when it was handled before."""
        ...


class OutboxStore(Protocol):
    def add(self, user_id: int, payloads: Sequence[dict[str, Any]], context: dict[str, Any]) -> list[int]:
        """Queue replies in order; their ids, in the same order."""
        ...

    def lease(self, user_id: int, lease_seconds: float) -> Lease:
        """Take the user's unsent replies for sending, oldest first, stopping at one another
        sender still holds (so the user never sees replies out of order)."""
        ...

    def mark_sent(self, outbox_id: int, user_id: int, question_message_id: int | None) -> None: ...
    def note_parts_sent(self, outbox_id: int, parts: int) -> None: ...
    def drop_unsent(self, user_id: int) -> None: ...
    def users_with_unsent(self, channel: str) -> list[tuple[int, str]]:
        """(user id, external id) of everyone with replies owed and not leased."""
        ...

    def backlog(self) -> int:
        """How many replies are owed, for the operator's metrics."""
        ...


class PlanStore(Protocol):
    def get(self, user_id: int) -> Plan | None: ...
    def save(self, user_id: int, plan: Plan) -> None: ...
    def add_event(self, user_id: int, event: PlanEvent) -> None: ...
    def events(self, user_id: int) -> list[PlanEvent]: ...


class ReminderStore(Protocol):
    def add(
        self,
        user_id: int,
        kind: str,
        days: tuple[str, ...],
        local_time: str,
        timezone: str,
        due_at: datetime,
        ref_session: int | None = None,
    ) -> int: ...
    def of(self, user_id: int, kinds: tuple[str, ...] = ()) -> list[Reminder]:
        """The user's reminders that are not finished, oldest first."""
        ...

    def get(self, user_id: int, reminder_id: int) -> Reminder | None: ...
    def update(
        self,
        reminder_id: int,
        *,
        status: str | None = None,
        due_at: datetime | None = None,
        clear_due: bool = False,
        local_time: str | None = None,
        timezone: str | None = None,
        days: tuple[str, ...] | None = None,
    ) -> None: ...
    def delete(self, user_id: int, reminder_id: int) -> bool: ...
    def due(self, moment: datetime, limit: int) -> list[DueReminder]:
        """Active reminders due at `moment`, oldest first, locked for this transaction:
        another process claiming at the same time gets others (or none), never these."""
        ...

    def pending_day_after(self, user_id: int) -> bool: ...


class SessionStore(Protocol):
    def add(
        self,
        user_id: int,
        reminder_id: int | None,
        occurrence: datetime,
        routine: str | None,
        outcome: str = "sent",
    ) -> int | None:
        """Record one occurrence; None when it was recorded before (never send it twice).
        `reminder_id` is None for a session the person started themselves."""
        ...

    def get(self, user_id: int, session_id: int) -> Session | None: ...
    def update(self, session_id: int, **fields: Any) -> None:
        """Set fields by name (`guide` takes a records.Guide or None)."""
        ...

    def unsettled_hurt(self, user_id: int) -> int | None:
        """The latest session that hurt and had not settled, still waiting for the morning answer."""
        ...

    def of(self, user_id: int) -> list[Session]: ...


class CheckinStore(Protocol):
    def add(self, user_id: int, reminder_id: int, kind: str, occurrence: datetime) -> int | None: ...
    def get(self, user_id: int, checkin_id: int) -> Checkin | None: ...
    def update(self, checkin_id: int, **fields: Any) -> None: ...
    def answered(self, user_id: int) -> list[Checkin]:
        """Answered check-ins with a pain score, oldest first."""
        ...


class MediaStore(Protocol):
    """Where a front keeps what its transport calls a file it already uploaded (Telegram's
    file_id), so each picture is uploaded once and then sent by reference."""

    def file_id(self, channel: str, key: str) -> str | None: ...
    def remember(self, channel: str, key: str, file_id: str) -> None: ...
    def forget(self, channel: str, key: str) -> None: ...


class BroadcastStore(Protocol):
    def claim(self, spacing: float) -> float:
        """Take the next start of the proactive-send pace that every process on this database
        shares: starts are at least `spacing` seconds apart across all of them. Returns how
        many seconds from now this one's start is (0 or less: at once)."""
        ...


class Tx(Protocol):
    """One transaction's stores."""

    @property
    def users(self) -> UserStore: ...
    @property
    def conversations(self) -> ConversationStore: ...
    @property
    def inbox(self) -> InboxStore: ...
    @property
    def outbox(self) -> OutboxStore: ...
    @property
    def plans(self) -> PlanStore: ...
    @property
    def reminders(self) -> ReminderStore: ...
    @property
    def sessions(self) -> SessionStore: ...
    @property
    def checkins(self) -> CheckinStore: ...
    @property
    def media(self) -> MediaStore: ...
    @property
    def broadcast(self) -> BroadcastStore: ...


class Storage(Protocol):
    """A database: units of work, health, upkeep."""

    @property
    def description(self) -> str:
        """Where the data lives, without secrets (for logs): a file path or host/database."""
        ...

    @property
    def shared(self) -> bool:
        """Whether several bot processes may use this database at once (PostgreSQL), so what
        they share with Telegram, such as the broadcast pace, is kept in it; an SQLite file
        serves one process, which keeps such things in memory."""
        ...

    async def write(self, work: Callable[[Tx], T], *, key: str | None = None) -> T:
        """Run `work` in one write transaction and commit; StorageError rolls it all back."""
        ...

    async def read(self, work: Callable[[Tx], T]) -> T:
        """Run `work` in a consistent read-only view."""
        ...

    async def check_ready(self) -> None:
        """Raise StorageError unless the database is reachable and its migrations are current."""
        ...

    async def prune(self, now: datetime, keep: timedelta) -> dict[str, int]:
        """Forget transport bookkeeping older than `keep` (applied update ids, sent replies)."""
        ...

    async def backup(self, target: Path) -> None:
        """A consistent copy while the bot runs, where the backend can make one."""
        ...

    async def close(self) -> None: ...
