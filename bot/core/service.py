"""The conversation service: the one call every front makes for every input.

`handle(channel, external_id, event)` loads the user's conversation from the
database, runs one engine step and commits the new state, answers and any
result in a single transaction. Nothing conversational lives only in memory,
so a restart resumes exactly where the user was, and inputs are applied one at
a time (the database's writer lock), so two inputs never interleave.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import aiosqlite

from bot.core.engine import ConversationEngine
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


EffectsHandler = Callable[[aiosqlite.Connection, int, tuple[dict[str, Any], ...]], Awaitable[None]]


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
        """
        async with self.database.write() as connection:
            user_id = await repository.user_id_for(connection, channel, external_id)
            if inbox_key is not None and not await repository.claim_inbox(connection, inbox_key, user_id):
                return Handled([], None, user_id, duplicate=True)
            before = await repository.load_snapshot(connection, user_id)
            outcome = self.engine.step(before, event)
            after = outcome.snapshot
            if outcome.cancelled and before.check_id is not None:
                await repository.close_check(connection, before.check_id, "cancelled")
            if outcome.new_check:
                if before.check_id is not None:
                    await repository.close_check(connection, before.check_id, "cancelled")
                check_id = await repository.open_check(connection, user_id, self.engine.flow.name)
                after = replace(after, check_id=check_id)
            if outcome.assessment is not None:
                await repository.save_assessment(
                    connection, user_id, after.check_id, outcome.assessment, outcome.routine_id
                )
                if after.check_id is not None:
                    await repository.close_check(connection, after.check_id, "completed")
            await repository.save_snapshot(connection, user_id, before, after)
            if outcome.effects and self.effects is not None:
                await self.effects(connection, user_id, outcome.effects)
            outbox_ids: list[int] = []
            if outbox_context is not None and outcome.replies:
                outbox_ids = await repository.add_to_outbox(
                    connection, user_id, [reply_to_dict(reply) for reply in outcome.replies], outbox_context
                )
        if outcome.rejected:
            log.warning(
                "input rejected",
                extra={"channel": channel, "user": user_id, "why": outcome.rejected, "state": before.state},
            )
        return Handled(outcome.replies, after.state, user_id, outcome.rejected, outbox_ids=outbox_ids)

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
