"""The scheduler: reminders and check-ins that fall due go into the outbox, once each.

It keeps no private copy of what is due. `claim_due` asks storage for reminders
whose `due_at` has passed and, in ONE unit of work per chunk, records each
occurrence (a unique key makes a second recording impossible), writes its message
to the outbox and moves `due_at` to the next occurrence. Several processes on one
database each claim different rows (SQLite serialises the transactions;
PostgreSQL locks the rows with FOR UPDATE SKIP LOCKED), so each occurrence is
claimed once; a crash after the commit leaves the message in the outbox, sent on
the next start. After downtime, a reminder missed by less than the grace in
content/plan.yaml is sent once; older ones are recorded as missed and skipped.

The plan decides whether anything goes out: while it is paused for review (or
ended) no reminder, snooze or check-in is sent, and their times simply move on;
what a card shows is rendered from the current plan, in the person's language.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable
from datetime import datetime
from functools import partial

from bot.core.clock import Clock, SystemClock
from bot.core.content import Content
from bot.core.locales import user_language
from bot.core.plan.model import Plan
from bot.core.plan.screens import PlanScreens
from bot.core.plan.service import Batch
from bot.core.ports import Storage, Tx
from bot.core.records import DueReminder
from bot.core.replies import Reply
from bot.core.routines import plan_routine

log = logging.getLogger("psoasbot.scheduler")

REPEATING = ("session", "weekly_checkin")


class Scheduler:
    def __init__(
        self,
        content: Content,
        storage: Storage,
        clock: Clock | None = None,
        on_due: Callable[[str, float, bool], None] | None = None,
    ) -> None:
        self.content = content
        self.storage = storage
        self.clock = clock or SystemClock()
        self.on_due = on_due
        """Told of each reminder found due, once its chunk is committed: its kind, seconds
        late, and whether it was too late to send (the operator's metrics)."""
        self.config = content.plan
        self.screens = PlanScreens(content)
        self._screens: dict[str, PlanScreens] = {content.language: self.screens}
        self._cards: dict[tuple[str, str, int, frozenset[str]], Reply] = {}

    def _screens_in(self, language: str) -> PlanScreens:
        found = self._screens.get(language)
        if found is None:
            found = self._screens[language] = PlanScreens(self.content.in_language(language))
        return found

    async def tick(self, limit: int = 500) -> list[tuple[int, str]]:
        """Claim everything due, put its messages in the outbox; returns (user id, chat id) to flush."""
        touched: dict[int, str] = {}
        async for chunk in self.claim_due(limit):
            touched.update(chunk)
        return list(touched.items())

    async def claim_due(self, limit: int = 500) -> AsyncGenerator[list[tuple[int, str]], None]:
        """Claim what is due in units of work of at most `limit` rows, yielding each chunk's
        (user id, chat id) pairs as soon as it is committed.

        A caller can send one chunk while the next is claimed, so the first reminder of a
        large backlog leaves at once instead of after the whole backlog is claimed, and a
        large backlog never holds a write lock for long. Every due reminder that exists
        when the call starts is claimed before the iterator ends.
        """
        now = self.clock.now()
        while True:
            touched, claimed, due = await self.storage.write(partial(self._claim_chunk, now=now, limit=limit))
            if self.on_due is not None:
                for kind, late, missed in due:
                    self.on_due(kind, late, missed)
            if touched:
                yield touched
            if claimed < limit:
                return

    def _claim_chunk(
        self, tx: Tx, *, now: datetime, limit: int
    ) -> tuple[list[tuple[int, str]], int, list[tuple[str, float, bool]]]:
        """One chunk: its (user id, chat id) pairs to flush, how many due reminders it took,
        and (kind, seconds late, missed) of each reminder of a reachable person."""
        touched: dict[int, str] = {}
        due: list[tuple[str, float, bool]] = []
        batch = tx.reminders.due(now, limit)
        for item in batch:
            if item.active and item.reminder.due_at is not None:
                late = now - item.reminder.due_at
                due.append((item.reminder.kind, late.total_seconds(), late > self.config.missed_grace))
            if self._fire(tx, item, now):
                touched[item.reminder.user_id] = item.external_id
        return list(touched.items()), len(batch), due

    def _fire(self, tx: Tx, item: DueReminder, now: datetime) -> bool:
        reminder = item.reminder
        user_id = reminder.user_id
        assert reminder.due_at is not None
        occurrence = reminder.due_at
        if reminder.kind in REPEATING:
            tx.reminders.update(reminder.id, due_at=reminder.next_due(max(occurrence, now)))
        else:
            tx.reminders.update(reminder.id, status="finished", clear_due=True)
        if not item.active:  # the person blocked the bot: stop until they come back
            for other in tx.reminders.of(user_id, REPEATING):
                tx.reminders.update(other.id, status="paused", clear_due=True)
            return False
        late = now - occurrence
        if late > self.config.missed_grace:
            if reminder.kind == "session":
                tx.sessions.add(user_id, reminder.id, occurrence, None, outcome="missed")
            log.info(
                "reminder missed during downtime",
                extra={"reminder": reminder.id, "late_s": int(late.total_seconds())},
            )
            return False
        plan = tx.plans.get(user_id)
        if plan is None or not plan.state.sends_reminders:
            log.info(
                "reminder held by the plan",
                extra={"reminder": reminder.id, "state": plan.state.value if plan else None},
            )
            return False
        batch = Batch()
        screens = self._screens_in(user_language(tx, user_id, self.content))
        # Which reminder, and when it was due: the operator's log line and lateness metric.
        sent = {"reminder": reminder.id, "reminder_kind": reminder.kind, "due_at": occurrence.isoformat()}
        if reminder.kind == "session":
            session_id = tx.sessions.add(user_id, reminder.id, occurrence, plan.routine)
            if session_id is None:
                return False
            card = self._card(plan, session_id, screens)
            if card is None:
                return False
            batch.say(card, standalone=True, proactive=True, **sent)
        elif reminder.kind == "snooze":
            if reminder.ref_session is None:
                return False
            found = tx.sessions.get(user_id, reminder.ref_session)
            if found is None or found.outcome != "snoozed":
                return False
            tx.sessions.update(reminder.ref_session, outcome="sent")
            card = self._card(plan, reminder.ref_session, screens)
            if card is None:
                return False
            batch.say(card, standalone=True, proactive=True, **sent)
        else:
            kind = "weekly" if reminder.kind == "weekly_checkin" else "day_after"
            checkin_id = tx.checkins.add(user_id, reminder.id, kind, occurrence)
            if checkin_id is None:
                return False
            question = screens.checkin_pain_now(checkin_id, kind)
            batch.say(question, standalone=True, proactive=True, checkin=checkin_id, **sent)
        batch.write(tx, user_id)
        return True

    def _card(self, plan: Plan, session_id: int, screens: PlanScreens) -> Reply | None:
        """The reminder card for the plan as it is now; the card's text is rendered once per
        kind of plan and language, not once per reminder (a minute with a thousand due
        renders a handful)."""
        routine = plan_routine(plan, self.content)
        if routine is None:
            return None
        key = (screens.content.language, routine.id, routine.level, plan.excluded_tags)
        card = self._cards.get(key)
        if card is None:
            if len(self._cards) >= 256:
                self._cards.clear()
            card = self._cards[key] = screens.session_card(0, routine)
        return screens.with_session(card, session_id)
