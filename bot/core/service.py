"""The conversation service: the one call every front makes for every input.

`handle(channel, external_id, event)` loads the user's conversation and plan,
runs one engine step and commits the new state, answers, result, plan change and
replies in a single transaction (a unit of work of bot/core/ports.py). Nothing
conversational lives only in memory, so a restart resumes exactly where the user
was, and one user's inputs are applied one at a time, in order.

Each step is in the person's language (bot/core/locales.py: `user_language`): the one
they chose with /language, else the one their app reports with this input.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from bot.core.clock import Clock, SystemClock
from bot.core.engine import ConversationEngine, Outcome
from bot.core.events import Event
from bot.core.locales import user_language
from bot.core.plan.model import Plan
from bot.core.ports import Storage, Tx
from bot.core.records import Snapshot
from bot.core.replies import Reply, reply_to_dict

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
    language: str | None = None
    """The language the replies are in."""


EffectsHandler = Callable[[Tx, int, tuple[dict[str, Any], ...], Plan | None], None]
"""What a step's effects do (bot/core/plan/effects.py): plain work on the stores, inside
the step's transaction, after the conversation and plan are saved and before the replies
are queued. An error in it undoes the whole step, the inbox key included, so a
redelivered update is applied again, not skipped."""


@dataclass(frozen=True)
class _Input:
    channel: str
    external_id: str
    event: Event
    inbox_key: str | None
    outbox_context: dict[str, Any] | None
    language: str | None = None


@dataclass(frozen=True)
class _Applied:
    """What a step did, handed back from the storage thread."""

    handled: Handled
    state_before: str | None = None


class ConversationService:
    def __init__(
        self,
        engine: ConversationEngine,
        storage: Storage,
        effects: EffectsHandler | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.engine = engine
        self.storage = storage
        self.effects = effects
        self.clock = clock or SystemClock()

    async def handle(
        self,
        channel: str,
        external_id: str,
        event: Event,
        *,
        inbox_key: str | None = None,
        outbox_context: dict[str, Any] | None = None,
        language: str | None = None,
    ) -> Handled:
        """Apply one input in one transaction.

        `inbox_key` (a transport's update id) makes the input idempotent: a
        redelivery after a crash is recognised and skipped. With
        `outbox_context`, the replies are also written to the outbox in the same
        transaction, so a front that crashes before sending them can send them
        after a restart. `language` is what the person's app reports ("de-AT";
        "" for nothing, None when the front cannot tell): it applies unless the
        person chose a language with /language.
        """
        request = _Input(channel, external_id, event, inbox_key, outbox_context, language)
        applied = await self.storage.write(partial(self._apply, request), key=f"{channel}:{external_id}")
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

    def _apply(self, request: _Input, tx: Tx) -> _Applied:
        """The step itself, inside the transaction."""
        user_id, before = tx.conversations.load(request.channel, request.external_id)
        if request.inbox_key is not None and not tx.inbox.claim(request.inbox_key, user_id):
            return _Applied(Handled([], None, user_id, duplicate=True))
        plan = tx.plans.get(user_id)
        language = user_language(tx, user_id, self.engine.content, request.language)
        outcome = self.engine.step(before, request.event, plan, self.clock.now(), language=language)
        after = self._record_check(tx, user_id, before, outcome)
        tx.conversations.save(user_id, before, after)
        if outcome.language is not None:
            tx.users.set_language(user_id, outcome.language)
            language = outcome.language
        change = outcome.plan_change
        if change is not None and change.plan is not None:
            tx.plans.save(user_id, change.plan)
            if change.event is not None:
                tx.plans.add_event(user_id, change.event)
            plan = change.plan
        if outcome.effects and self.effects is not None:
            self.effects(tx, user_id, outcome.effects, plan)
        outbox_ids: list[int] = []
        if request.outbox_context is not None and outcome.replies:
            payloads = [reply_to_dict(reply) for reply in outcome.replies]
            # The language goes with the replies: what the front adds when it sends them (a
            # picture's legend) is in it too.
            context = {**request.outbox_context, "language": language}
            outbox_ids = tx.outbox.add(user_id, payloads, context)
        handled = Handled(
            outcome.replies, after.state, user_id, outcome.rejected, outbox_ids=outbox_ids, language=language
        )
        return _Applied(handled, before.state)

    def _record_check(self, tx: Tx, user_id: int, before: Snapshot, outcome: Outcome) -> Snapshot:
        """Open, cancel and complete check records as the step asks; the snapshot to save."""
        after = outcome.snapshot
        if outcome.cancelled and before.check_id is not None:
            tx.conversations.close_check(before.check_id, "cancelled")
        if outcome.new_check:
            if before.check_id is not None:
                tx.conversations.close_check(before.check_id, "cancelled")
            check_id = tx.conversations.open_check(user_id, self.engine.flow.name)
            after = replace(after, check_id=check_id)
        if outcome.assessment is not None:
            result = outcome.assessment
            tx.conversations.save_assessment(
                user_id,
                after.check_id,
                result.urgency.value,
                result.reasons + result.contraindications,
                result.ball_release_allowed,
                outcome.routine_id,
            )
            if after.check_id is not None:
                tx.conversations.close_check(after.check_id, "completed")
        return after

    async def export(self, channel: str, external_id: str) -> dict[str, Any] | None:
        """Everything stored about a user, or None when nothing is."""

        def work(tx: Tx) -> dict[str, Any] | None:
            user_id = tx.users.find(channel, external_id)
            return None if user_id is None else tx.users.export(user_id)

        return await self.storage.read(work)

    async def language_of(self, channel: str, external_id: str, reported: str | None = None) -> str:
        """The language to write to someone in outside a step (a note, a report): theirs when
        they are known, else what their app reports."""
        content = self.engine.content

        def work(tx: Tx) -> str:
            user_id = tx.users.find(channel, external_id)
            return content.pick_language(reported if user_id is None else tx.users.language(user_id))

        return await self.storage.read(work)

    async def forget(self, channel: str, external_id: str) -> bool:
        """Delete everything stored about a user; False when there was nothing."""

        def work(tx: Tx) -> int | None:
            user_id = tx.users.find(channel, external_id)
            if user_id is not None:
                tx.users.delete(user_id)
            return user_id

        user_id = await self.storage.write(work, key=f"{channel}:{external_id}")
        if user_id is None:
            return False
        log.info("user forgotten", extra={"channel": channel, "user": user_id})
        return True

    async def set_active(self, channel: str, external_id: str, active: bool) -> None:
        """Mark whether the user can be reached (False after they block the bot)."""

        def work(tx: Tx) -> int:
            user_id = tx.users.get_or_create(channel, external_id)
            tx.users.set_active(user_id, active)
            if not active:
                tx.outbox.drop_unsent(user_id)
            return user_id

        user_id = await self.storage.write(work, key=f"{channel}:{external_id}")
        log.info("user reachability changed", extra={"channel": channel, "user": user_id, "active": active})
