"""The conversation service: the one call every front makes for every input.

`handle(channel, external_id, event)` loads the user's conversation from the
database, runs one engine step and commits the new state, answers and any
result in a single transaction. Nothing conversational lives only in memory,
so a restart resumes exactly where the user was, and inputs are applied one at
a time (the database's writer lock), so two inputs never interleave.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from bot.core.engine import ConversationEngine
from bot.core.events import Event
from bot.core.replies import Reply
from bot.storage import repository
from bot.storage.database import Database

log = logging.getLogger("psoasbot.conversation")


@dataclass(frozen=True)
class Handled:
    replies: list[Reply]
    state: str | None
    rejected: str | None = None


class ConversationService:
    def __init__(self, engine: ConversationEngine, database: Database) -> None:
        self.engine = engine
        self.database = database

    async def handle(self, channel: str, external_id: str, event: Event) -> Handled:
        async with self.database.write() as connection:
            user_id = await repository.user_id_for(connection, channel, external_id)
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
        if outcome.rejected:
            log.warning(
                "input rejected",
                extra={"channel": channel, "user": user_id, "why": outcome.rejected, "state": before.state},
            )
        return Handled(outcome.replies, after.state, outcome.rejected)
