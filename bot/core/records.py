"""The typed records storage hands to the core and takes back.

Every backend (bot/storage/sqlite, bot/storage/postgres) returns these, never raw
rows or dicts, so the core reads one shape whatever the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.core.clock import LocalTime, next_occurrence

MAIN_FLOW = "symptom_check"


@dataclass(frozen=True)
class Snapshot:
    """One user's conversation as stored: enough to resume after any restart."""

    state: str | None = None
    step: int = 0
    history: tuple[str, ...] = ()
    answers: dict[str, Any] = field(default_factory=dict)
    pending: tuple[str, ...] = ()
    check_id: int | None = None
    result: dict[str, Any] | None = None
    flow: str = MAIN_FLOW
    context: dict[str, Any] = field(default_factory=dict)
    """Conversation-level facts outside any check: the time zone, quiet hours, set-up answers."""


def stored_context(snapshot: Snapshot) -> dict[str, Any]:
    """The context as a conversation row keeps it: without the quiet hours, whose one home is
    the user row (loading merges them back), so a copy can never go stale or change on a
    read-only step."""
    return {key: value for key, value in snapshot.context.items() if key != "quiet"}


@dataclass(frozen=True)
class Reminder:
    """A repeating reminder (a session or the weekly check-in) or a one-off (snooze, day-after)."""

    id: int
    user_id: int
    kind: str
    """"session", "weekly_checkin", "day_after_checkin" or "snooze"."""
    days: tuple[str, ...]
    local_time: str
    timezone: str
    status: str
    """"active", "paused" (by the person) or "finished"."""
    due_at: datetime | None
    ref_session: int | None

    def next_due(self, after: datetime) -> datetime:
        time = LocalTime.parse(self.local_time)
        assert time is not None
        return next_occurrence(self.days, time, self.timezone, after)


@dataclass(frozen=True)
class DueReminder:
    """A reminder that fell due, with what sending it needs to know about its person."""

    reminder: Reminder
    external_id: str
    channel: str
    active: bool
    """False once the person blocked the bot."""


@dataclass(frozen=True)
class Guide:
    """A guided session's progress: the exercises it walks through, fixed when it started."""

    exercises: tuple[str, ...]
    position: int
    """The exercise on screen now (== len(exercises) once finished)."""
    skipped: tuple[str, ...]
    started_at: datetime

    @property
    def current(self) -> str | None:
        return self.exercises[self.position] if self.position < len(self.exercises) else None

    def to_json(self) -> dict[str, Any]:
        return {
            "exercises": list(self.exercises),
            "position": self.position,
            "skipped": list(self.skipped),
            "started_at": self.started_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Guide:
        return cls(
            exercises=tuple(data["exercises"]),
            position=int(data["position"]),
            skipped=tuple(data.get("skipped", ())),
            started_at=datetime.fromisoformat(data["started_at"]),
        )


@dataclass(frozen=True)
class Session:
    """One occurrence of a routine (from a reminder, or started from /routine) and how it went."""

    id: int
    user_id: int
    at: datetime
    routine: str | None
    outcome: str
    """"sent", "done", "skipped", "snoozed", "hurt" or "missed"."""
    hurt_exercise: str | None = None
    hurt_area: str | None = None
    hurt_pain: int | None = None
    hurt_settled: bool | None = None
    settled_next_morning: bool | None = None
    guide: Guide | None = None
    """Set while (and after) the person is guided through the session exercise by exercise."""


@dataclass(frozen=True)
class Checkin:
    """One pain check-in, answered step by step."""

    id: int
    user_id: int
    kind: str
    """"day_after" or "weekly"."""
    at: datetime
    pain_now: int | None = None
    pain_worst: int | None = None
    settled: bool | None = None
    new_flags: tuple[str, ...] | None = None
    """None until a warning-sign screen is answered "yes"; then the flags chosen so far."""
    answered_at: datetime | None = None
    flag_stage: str | None = None
    """Which warning-sign screen of a weekly check-in is open (see bot/core/plan/service.py)."""


@dataclass(frozen=True)
class Assessment:
    """One stored result."""

    urgency: str
    reasons: tuple[str, ...]
    ball_release_allowed: bool
    routine: str | None
    created_at: str
    check_id: int | None


@dataclass(frozen=True)
class OutboxItem:
    """A reply waiting to be sent, leased by the sender that took it."""

    id: int
    payload: dict[str, Any]
    context: dict[str, Any]


@dataclass(frozen=True)
class Lease:
    """A user's unsent replies, oldest first, and where their live question message is."""

    items: list[OutboxItem]
    question_message_id: int | None
