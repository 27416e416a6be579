"""The conversation service: the one call every front makes for every input.

`handle(channel, external_id, event)` loads the user's conversation from the
database, runs one engine step and commits the new state, answers and any
result in a single transaction. Nothing conversational lives only in memory,
so a restart resumes exactly where the user was, and inputs are applied one at
a time (the database's writer lock), so two inputs never interleave.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from bot.core.engine import ConversationEngine, Outcome, Snapshot
from bot.core.events import Event
from bot.core.replies import Reply, reply_to_dict
from bot.storage import repository
from bot.storage.database import Database

log = logging.getLogger("psoasbot.conversation")


@dataclass(frozen=True)
class Handled:
    replies: list[Reply]
    state: str | None
    user_id: int
    rejected: str | None = None
    duplicate: bool = False
    """The input was handled before (a redelivered update): nothing was done again."""
    outbox_ids: list[int] = field(default_factory=list)


EffectsHandler = Callable[[sqlite3.Connection, int, tuple[dict[str, Any], ...]], None]
"""What a step's effects do (the plan service's `apply_effects`): plain work on the raw
connection, called on the database thread inside the step's transaction, after the
conversation is saved and before its replies are queued. An error in it undoes the whole
step, the inbox key included, so a redelivered update is applied again, not skipped."""


@dataclass(frozen=True)
class _Input:
    channel: str
    external_id: str
    event: Event
    inbox_key: str | None
    outbox_context: dict[str, Any] | None


@dataclass(frozen=True)
class _Applied:
    """What a step did, handed back from the database thread."""

    handled: Handled
    state_before: str | None = None


class ConversationService:
    def __init__(
        self, engine: ConversationEngine, database: Database, effects: EffectsHandler | None = None
    ) -> None:
        self.engine = engine
        self.database = database
        self.effects = effects

    async def handle(
        self,
        channel: str,
        external_id: str,
        event: Event,
        *,
        inbox_key: str | None = None,
        outbox_context: dict[str, Any] | None = None,
    ) -> Handled:
        """Apply one input in one transaction.

        `inbox_key` (a transport's update id) makes the input idempotent: a
        redelivery after a crash is recognised and skipped. With
        `outbox_context`, the replies are also written to the outbox in the same
        transaction, so a front that crashes before sending them can send them
        after a restart.

        Load, engine step, effects and save run as one plain function on the
        database's thread (`Database.write_sync`): one hand-off per step instead of
        one per statement. The engine is pure, so it runs there as well as anywhere.
        """
        request = _Input(channel, external_id, event, inbox_key, outbox_context)
        applied = await self.database.write_sync(partial(self._apply, request))
        handled = applied.handled
        if handled.rejected:
            log.warning(
                "input rejected",
                extra={
                    "channel": channel,
                    "user": handled.user_id,
                    "why": handled.rejected,
                    "state": applied.state_before,
                },
            )
        return handled

    def _apply(self, request: _Input, raw: sqlite3.Connection) -> _Applied:
        """The step itself, on the database thread inside the transaction."""
        stamp = repository.now()
        user_id, before = repository.user_and_snapshot_sync(
            raw, request.channel, request.external_id, stamp=stamp
        )
        if request.inbox_key is not None and not repository.claim_inbox_sync(
            raw, request.inbox_key, user_id, stamp=stamp
        ):
            return _Applied(Handled([], None, user_id, duplicate=True))
        outcome = self.engine.step(before, request.event)
        after = self._record_check(raw, user_id, before, outcome, stamp)
        repository.save_snapshot_sync(raw, user_id, before, after, stamp=stamp)
        if outcome.effects and self.effects is not None:
            self.effects(raw, user_id, outcome.effects)
        outbox_ids = _queue_replies(raw, user_id, outcome.replies, request.outbox_context, stamp)
        handled = Handled(outcome.replies, after.state, user_id, outcome.rejected, outbox_ids=outbox_ids)
        return _Applied(handled, before.state)

    def _record_check(
        self, raw: sqlite3.Connection, user_id: int, before: Snapshot, outcome: Outcome, stamp: str
    ) -> Snapshot:
        """Open, cancel and complete check records as the step asks; the snapshot to save."""
        after = outcome.snapshot
        if outcome.cancelled and before.check_id is not None:
            repository.close_check_sync(raw, before.check_id, "cancelled", stamp=stamp)
        if outcome.new_check:
            if before.check_id is not None:
                repository.close_check_sync(raw, before.check_id, "cancelled", stamp=stamp)
            check_id = repository.open_check_sync(raw, user_id, self.engine.flow.name, stamp=stamp)
            after = replace(after, check_id=check_id)
        if outcome.assessment is not None:
            repository.save_assessment_sync(
                raw, user_id, after.check_id, outcome.assessment, outcome.routine_id, stamp=stamp
            )
            if after.check_id is not None:
                repository.close_check_sync(raw, after.check_id, "completed", stamp=stamp)
        return after

    async def export(self, channel: str, external_id: str) -> dict[str, Any] | None:
        """Everything stored about a user, or None when nothing is."""
        async with self.database.read() as connection:
            user_id = await repository.find_user(connection, channel, external_id)
            return None if user_id is None else await repository.export_user(connection, user_id)

    async def forget(self, channel: str, external_id: str) -> bool:
        """Delete everything stored about a user; False when there was nothing."""
        async with self.database.write() as connection:
            user_id = await repository.find_user(connection, channel, external_id)
            if user_id is None:
                return False
            await repository.delete_user(connection, user_id)
        log.info("user forgotten", extra={"channel": channel, "user": user_id})
        return True

    async def set_active(self, channel: str, external_id: str, active: bool) -> None:
        """Mark whether the user can be reached (False after they block the bot)."""
        async with self.database.write() as connection:
            user_id = await repository.user_id_for(connection, channel, external_id)
            await repository.set_active(connection, user_id, active)
            if not active:
                await repository.drop_unsent(connection, user_id)
        log.info("user reachability changed", extra={"channel": channel, "user": user_id, "active": active})


def _queue_replies(
    raw: sqlite3.Connection, user_id: int, replies: list[Reply], context: dict[str, Any] | None, stamp: str
) -> list[int]:
    """Put the replies in the outbox when the front asked for it; their outbox ids."""
    if context is None or not replies:
        return []
    payloads = [reply_to_dict(reply) for reply in replies]
    return repository.add_to_outbox_sync(raw, user_id, payloads, context, stamp=stamp)
