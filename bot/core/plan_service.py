"""The plan after a check: reminders, sessions, check-ins, and changing the plan.

Transport-free like the conversation service: it reads and writes the database
and returns replies through the outbox, which a front delivers.

The scheduler keeps no private copy of what is due. `tick()` asks the database
for reminders whose `due_at` has passed and, in ONE write transaction, records
each occurrence (a UNIQUE key makes a second recording impossible), writes its
message to the outbox and moves `due_at` to the next occurrence. Two processes
on one database serialise on that transaction, so each occurrence is claimed
once; a crash after the commit leaves the message in the outbox, sent on the
next start. After downtime, a reminder missed by less than two hours is sent
once; older ones are recorded as missed and skipped to the next occurrence.

Button data (all within Telegram's 64 bytes):
  r:<session>:d|z|s|h|v        reminder: Done, Snooze 30 min, Skip today, It hurt, Show the steps
  h:<session>:a<i>|p<v>|sy|sn  it hurt: where, how much, settled yes/no
  c:<checkin>:n<v>|w<v>|sy|sn|fy|fn|t<i>|k   check-in: pain now, worst, settled, flags, toggle, done
  m:<reminder>:p|r|x           /reminders: pause, resume, delete (t, change time, goes to the conversation)
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import aiosqlite

from bot.core.answers import AREAS, WEEKDAYS
from bot.core.clock import LocalTime, QuietHours, next_occurrence, shift_out_of_quiet_hours
from bot.core.content import Content
from bot.core.plan_rules import (
    SESSION_OUTCOMES,
    CheckinRecord,
    CheckinRules,
    PlanHistory,
    SessionRecord,
    decide,
)
from bot.core.presenter import Presenter
from bot.core.replies import Button, Reply, ReplyKind, reply_to_dict
from bot.core.routines import PersonalRoutine, personalise
from bot.core.triage import TriageResult, triage
from bot.storage import plan_repository as plans
from bot.storage import repository
from bot.storage.database import Database, on_worker

log = logging.getLogger("psoasbot.plan")

SNOOZE = timedelta(minutes=30)
QUIET_HOURS = QuietHours(LocalTime(22, 0), LocalTime(7, 0))
MISSED_GRACE = timedelta(hours=2)
EASED_ROUTINE = "gentle-while-waiting"
_DATA = re.compile(r"^([rhcm]):(\d{1,12}):([a-z]{1,2}\d{0,2})$")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FileClock:
    """A clock read from a file holding an ISO time: lets tests move a real bot
    process through days and daylight-saving changes without waiting. Only used
    when PSOASBOT_CLOCK_FILE is set; a missing or empty file means real time."""

    def __init__(self, path: str) -> None:
        self.path = path

    def now(self) -> datetime:
        try:
            with open(self.path, encoding="utf-8") as handle:
                text = handle.read().strip()
        except OSError:
            text = ""
        return datetime.fromisoformat(text).astimezone(UTC) if text else datetime.now(UTC)


@dataclass
class PlanHandled:
    user_id: int | None
    change_time_of: int | None = None
    """A reminder whose time the user wants to change: the front starts that conversation."""
    rejected: str | None = None


@dataclass
class _Batch:
    """Replies for one user, written to the outbox at the end of a transaction."""

    replies: list[tuple[Reply, dict[str, Any]]] = field(default_factory=list)

    def say(self, reply: Reply, **context: Any) -> None:
        self.replies.append((reply, context))


def is_plan_button(data: str) -> bool:
    return bool(_DATA.match(data or ""))


class PlanService:
    def __init__(
        self,
        content: Content,
        database: Database,
        clock: Clock | None = None,
        on_due: Callable[[str, float, bool], None] | None = None,
    ) -> None:
        self.content = content
        self.database = database
        self.on_due = on_due
        """Told of each reminder the scheduler finds due, once claimed: its kind, seconds
        late, and whether it was too late to send (the operator's metrics)."""
        self.rules: CheckinRules = content.checkin_rules
        self.clock = clock or SystemClock()
        self.messages = content.messages
        self.present = Presenter(content)
        self._cards: dict[tuple[str, bool, tuple[str, ...]] | None, Reply] = {}

    # ------------------------------------------------------------ effects of the set-up flow

    def apply_effects(
        self, raw: sqlite3.Connection, user_id: int, effects: tuple[dict[str, Any], ...]
    ) -> None:
        """Called by the conversation service inside its transaction, on the database thread
        (plain work on the raw connection: the step stays one hop)."""
        now = self.clock.now()
        for effect in effects:
            kind = effect["type"]
            if kind == "set_timezone":
                self._set_timezone(raw, user_id, str(effect["timezone"]), now)
            elif kind == "save_reminders":
                self._save_reminders(raw, user_id, effect, now)
            elif kind == "assessment":
                self._follow_assessment(raw, user_id, effect)
            elif kind == "change_reminder_time":
                found = plans.reminder_sync(raw, user_id, int(effect["reminder_id"] or 0))
                if found is not None:
                    moved = replace(found, local_time=str(effect["time"]))
                    plans.update_reminder_sync(
                        raw,
                        found.id,
                        local_time=moved.local_time,
                        due_at=moved.next_due(now),
                        status="active",
                    )

    def _follow_assessment(self, raw: sqlite3.Connection, user_id: int, result: dict[str, Any]) -> None:
        """A new result changes an existing plan at once: never exercise reminders after an
        urgent or emergency result, never ball work after a new contraindication."""
        plan = plans.plan_sync(raw, user_id)
        if plan is None:
            return
        if result["urgency"] in ("URGENT", "EMERGENCY"):
            paused = plans.pause_all_sync(raw, user_id)
            log.info("reminders paused by a new result", extra={"user": user_id, "paused": paused})
            return
        plans.update_plan_sync(
            raw,
            user_id,
            routine=result.get("routine") or plan["routine"],
            ball_allowed=int(bool(result.get("ball_release_allowed"))),
            forbidden_tags=list(result.get("forbidden_tags", [])),
        )

    def _set_timezone(self, raw: sqlite3.Connection, user_id: int, zone: str, now: datetime) -> None:
        """Keep every reminder's local time; only the UTC moment it maps to changes."""
        plans.set_user_timezone_sync(raw, user_id, zone)
        for item in plans.reminders_of_sync(raw, user_id, ("session", "weekly_checkin")):
            moved = replace(item, timezone=zone)
            due = moved.next_due(now) if item.status == "active" else None
            plans.update_reminder_sync(raw, item.id, timezone=zone, due_at=due, clear_due=due is None)

    def _save_reminders(
        self, raw: sqlite3.Connection, user_id: int, effect: dict[str, Any], now: datetime
    ) -> None:
        stored = raw.execute("SELECT result FROM conversations WHERE user_id = ?", (user_id,)).fetchone()
        latest = json.loads(stored[0]) if stored and stored[0] else {}
        if latest.get("urgency") not in ("SELF_CARE", "ROUTINE"):
            # Never exercise reminders for someone whose latest result says see a doctor now.
            log.error("reminders refused: the latest result offers no routine", extra={"user": user_id})
            return
        zone = str(effect["timezone"])
        days = tuple(effect["days"])
        time = str(effect["time"])
        if not days or not zone:  # the flow never allows this; refuse rather than fail the step
            log.error("reminder set-up without days or zone ignored", extra={"user": user_id})
            return
        for item in plans.reminders_of_sync(raw, user_id, ("session", "weekly_checkin")):
            plans.delete_reminder_sync(raw, user_id, item.id)
        session = plans.Reminder(0, user_id, "session", days, time, zone, "active", None, None)
        plans.add_reminder_sync(raw, user_id, "session", days, time, zone, session.next_due(now))
        schedule = self.rules.schedule
        weekly = plans.Reminder(
            0,
            user_id,
            "weekly_checkin",
            (schedule.weekly_checkin_weekday,),
            schedule.weekly_checkin_time,
            zone,
            "active",
            None,
            None,
        )
        first_weekly = weekly.next_due(now + timedelta(days=6))
        plans.add_reminder_sync(
            raw, user_id, "weekly_checkin", weekly.days, weekly.local_time, zone, first_weekly
        )
        plans.save_plan_sync(
            raw,
            user_id,
            routine=str(effect.get("routine") or latest.get("routine") or "desk-sitter"),
            baseline_pain=int(effect.get("baseline_pain") or 0),
            started_at=now,
            ball_allowed=bool(effect.get("ball_allowed")),
            forbidden_tags=list(latest.get("forbidden_tags", [])),
        )

    # ------------------------------------------------------------ the scheduler

    async def tick(self, limit: int = 500) -> list[tuple[int, str]]:
        """Claim everything due, put its messages in the outbox; returns (user id, chat id) to flush."""
        touched: dict[int, str] = {}
        async for chunk in self.claim_due(limit):
            touched.update(chunk)
        return list(touched.items())

    async def claim_due(self, limit: int = 500) -> AsyncGenerator[list[tuple[int, str]], None]:
        """Claim what is due in transactions of at most `limit` rows, yielding each chunk's
        (user id, chat id) pairs as soon as it is committed.

        A caller can send one chunk while the next is claimed, so the first reminder of a
        large backlog leaves at once instead of after the whole backlog is claimed, and a
        large backlog never holds the write lock for long. Every due reminder that exists
        when the call starts is claimed before the iterator ends.

        Each chunk is one plain function on the database thread (`Database.write_sync`):
        one hand-off for the whole transaction instead of several per reminder, so the
        writer lock is held for the SQL alone and the sender's writes get their turn.
        """
        now = self.clock.now()
        while True:
            touched, claimed, due = await self.database.write_sync(
                partial(self._claim_chunk, now=now, limit=limit)
            )
            if self.on_due is not None:
                for kind, late, missed in due:
                    self.on_due(kind, late, missed)
            if touched:
                yield touched
            if claimed < limit:
                return

    def _claim_chunk(
        self, raw: sqlite3.Connection, *, now: datetime, limit: int
    ) -> tuple[list[tuple[int, str]], int, list[tuple[str, float, bool]]]:
        """One chunk's transaction, on the database thread: its (user id, chat id) pairs to
        flush, how many due reminders it took, and (kind, seconds late, missed) of each
        reminder of an active user, for `on_due` once the transaction has committed."""
        touched: dict[int, str] = {}
        due: list[tuple[str, float, bool]] = []
        batch = plans.due_sync(raw, now, limit)
        for item in batch:
            if item.active and item.reminder.due_at is not None:
                late = now - item.reminder.due_at
                due.append((item.reminder.kind, late.total_seconds(), late > MISSED_GRACE))
            if self._fire_sync(raw, item, now):
                touched[item.reminder.user_id] = item.external_id
        return list(touched.items()), len(batch), due

    def _fire_sync(self, raw: sqlite3.Connection, item: plans.DueReminder, now: datetime) -> bool:
        reminder = item.reminder
        assert reminder.due_at is not None
        occurrence = reminder.due_at
        repeating = reminder.kind in ("session", "weekly_checkin")
        late = now - occurrence
        if repeating:
            plans.update_reminder_sync(raw, reminder.id, due_at=reminder.next_due(max(occurrence, now)))
        else:
            plans.update_reminder_sync(raw, reminder.id, status="finished", clear_due=True)
        if not item.active:
            plans.pause_all_sync(raw, reminder.user_id)
            return False
        if late > MISSED_GRACE:
            if reminder.kind == "session":
                plans.add_session_sync(raw, reminder.user_id, reminder.id, occurrence, None, outcome="missed")
            log.info(
                "reminder missed during downtime",
                extra={"reminder": reminder.id, "late_s": int(late.total_seconds())},
            )
            return False
        batch = _Batch()
        # Which reminder, and when it was due: the operator's log line and lateness metric.
        sent = {"reminder": reminder.id, "reminder_kind": reminder.kind, "due_at": occurrence.isoformat()}
        if reminder.kind == "session":
            plan = plans.plan_sync(raw, reminder.user_id)
            routine_id = plan["routine"] if plan else None
            session_id = plans.add_session_sync(raw, reminder.user_id, reminder.id, occurrence, routine_id)
            if session_id is None:
                return False
            batch.say(self._session_reply(session_id, plan), standalone=True, proactive=True, **sent)
        elif reminder.kind == "snooze":
            if reminder.ref_session is None:
                return False
            found = plans.session_sync(raw, reminder.user_id, reminder.ref_session)
            if found is None or found["outcome"] != "snoozed":
                return False
            plans.update_session_sync(raw, reminder.ref_session, outcome="sent")
            plan = plans.plan_sync(raw, reminder.user_id)
            batch.say(
                self._session_reply(reminder.ref_session, plan), standalone=True, proactive=True, **sent
            )
        else:
            kind = "weekly" if reminder.kind == "weekly_checkin" else "day_after"
            checkin_id = plans.add_checkin_sync(raw, reminder.user_id, reminder.id, kind, occurrence)
            if checkin_id is None:
                return False
            batch.say(
                self._checkin_question(checkin_id, "n"),
                standalone=True,
                proactive=True,
                checkin=checkin_id,
                **sent,
            )
        self._write_sync(raw, reminder.user_id, batch)
        return True

    # ------------------------------------------------------------ buttons

    async def press(self, channel: str, external_id: str, data: str, message_id: int | None) -> PlanHandled:
        match = _DATA.match(data or "")
        if match is None:
            return PlanHandled(None, rejected="malformed plan button")
        area, ref, action = match.group(1), int(match.group(2)), match.group(3)
        async with self.database.write() as connection:
            user_id = await repository.find_user(connection, channel, external_id)
            if user_id is None:
                return PlanHandled(None, rejected="unknown user")
            batch = _Batch()
            edit = {"edit_message_id": message_id} if message_id is not None else {}
            if area == "m":
                handled = await self._manage(connection, user_id, ref, action, batch)
            elif area == "r":
                handled = await self._session_button(connection, user_id, ref, action, batch, edit)
            elif area == "h":
                handled = await self._hurt_button(connection, user_id, ref, action, batch, edit)
            else:
                handled = await self._checkin_button(connection, user_id, ref, action, batch, edit)
            await self._write(connection, user_id, batch)
        return handled

    async def _session_button(
        self,
        connection: aiosqlite.Connection,
        user_id: int,
        session_id: int,
        action: str,
        batch: _Batch,
        edit: dict[str, Any],
    ) -> PlanHandled:
        found = await plans.session(connection, user_id, session_id)
        if found is None:
            return PlanHandled(user_id, rejected="unknown session")
        if action == "v":
            await self._show_steps(connection, user_id, batch)
            return PlanHandled(user_id)
        if found["outcome"] != "sent":
            batch.say(self.present.info("plan.already_noted"))
            return PlanHandled(user_id)
        now = self.clock.now()
        m = self.messages
        if action == "d":
            await plans.update_session(connection, session_id, outcome="done")
            await self._schedule_day_after(connection, user_id, now)
            batch.say(Reply(ReplyKind.QUESTION, m.text("plan.session_done")), **edit)
        elif action == "s":
            await plans.update_session(connection, session_id, outcome="skipped")
            batch.say(Reply(ReplyKind.QUESTION, m.text("plan.session_skipped")), **edit)
        elif action == "z":
            await plans.update_session(connection, session_id, outcome="snoozed")
            zone = await plans.user_timezone(connection, user_id) or "UTC"
            at = shift_out_of_quiet_hours(now + SNOOZE, zone, QUIET_HOURS)
            await plans.add_reminder(
                connection, user_id, "snooze", (), "00:00", zone, at, ref_session=session_id
            )
            local = at.astimezone(ZoneInfo(zone)).strftime("%H:%M")
            batch.say(Reply(ReplyKind.QUESTION, m.text("plan.session_snoozed", time=local)), **edit)
        elif action == "h":
            await plans.update_session(connection, session_id, outcome="hurt")
            batch.say(self._hurt_where(session_id), **edit)
        else:
            return PlanHandled(user_id, rejected="unknown session action")
        return PlanHandled(user_id)

    async def _show_steps(self, connection: aiosqlite.Connection, user_id: int, batch: _Batch) -> None:
        """The whole routine, step by step, beside the reminder card (which stays as it is).

        Works on a reminder already answered too (people look the steps up again), but
        never while the user's exercise reminders are paused: an urgent result or a red
        flag at a check-in pauses them, and an old card must not bring exercises back.
        """
        sessions = await plans.reminders_of(connection, user_id, ("session",))
        if not any(item.status == "active" for item in sessions):
            batch.say(self.present.info("plan.steps_unavailable"), standalone=True)
            return
        plan = await plans.plan(connection, user_id)
        batch.say(self.present.routine(self._personal_routine(plan)), standalone=True)

    async def _hurt_button(
        self,
        connection: aiosqlite.Connection,
        user_id: int,
        session_id: int,
        action: str,
        batch: _Batch,
        edit: dict[str, Any],
    ) -> PlanHandled:
        found = await plans.session(connection, user_id, session_id)
        if found is None or found["outcome"] != "hurt":
            return PlanHandled(user_id, rejected="no hurt report to answer")
        m = self.messages
        if found["hurt_settled"] is not None:  # finished already: a stale button
            batch.say(self.present.info("plan.already_noted"))
            return PlanHandled(user_id)
        if action.startswith("a") and action[1:].isdecimal() and int(action[1:]) < len(AREAS):
            await plans.update_session(connection, session_id, hurt_area=AREAS[int(action[1:])])
            batch.say(self._scale(m.text("plan.hurt_how_much"), f"h:{session_id}:p"), **edit)
        elif action.startswith("p") and action[1:].isdecimal() and int(action[1:]) <= 10:
            await plans.update_session(connection, session_id, hurt_pain=int(action[1:]))
            batch.say(self._yes_no(m.text("plan.hurt_settled"), f"h:{session_id}:s"), **edit)
        elif action in ("sy", "sn") and found["hurt_pain"] is not None:
            await plans.update_session(connection, session_id, hurt_settled=int(action == "sy"))
            now = self.clock.now()
            if action == "sn":
                await self._schedule_day_after(connection, user_id, now)
            batch.say(Reply(ReplyKind.QUESTION, m.text("plan.hurt_noted")), **edit)
            await self._decide(connection, user_id, now, batch, red_flag=False)
        else:
            return PlanHandled(user_id, rejected="unknown hurt action")
        return PlanHandled(user_id)

    async def _checkin_button(
        self,
        connection: aiosqlite.Connection,
        user_id: int,
        checkin_id: int,
        action: str,
        batch: _Batch,
        edit: dict[str, Any],
    ) -> PlanHandled:
        found = await plans.checkin(connection, user_id, checkin_id)
        if found is None:
            return PlanHandled(user_id, rejected="unknown check-in")
        if found["answered_at"] is not None:
            batch.say(self.present.info("plan.already_noted"))
            return PlanHandled(user_id)
        value = int(action[1:]) if action[1:].isdecimal() else None
        now = self.clock.now()
        if action.startswith("n") and value is not None and value <= 10:
            await plans.update_checkin(connection, checkin_id, pain_now=value)
            batch.say(self._checkin_question(checkin_id, "w"), **edit)
        elif action.startswith("w") and value is not None and value <= 10 and found["pain_now"] is not None:
            await plans.update_checkin(connection, checkin_id, pain_worst=value)
            await self._after_scores(connection, user_id, checkin_id, found["kind"], batch, edit, now)
        elif action in ("sy", "sn") and found["pain_worst"] is not None:
            await plans.update_checkin(connection, checkin_id, settled=int(action == "sy"))
            hurt = await plans.unsettled_hurt(connection, user_id)
            if hurt is not None:
                await plans.update_session(connection, hurt, settled_next_morning=int(action == "sy"))
            await self._after_settled(connection, user_id, checkin_id, found["kind"], batch, edit, now)
        elif action == "fn" and found["pain_worst"] is not None:
            await self._complete_checkin(connection, user_id, checkin_id, [], batch, edit, now)
        elif action == "fy" and found["pain_worst"] is not None:
            await plans.update_checkin(connection, checkin_id, new_flags=[])
            batch.say(self._flag_picker(checkin_id, []), **edit)
        elif action.startswith("t") and value is not None and found["new_flags"] is not None:
            keys = self._screen_keys()
            if value >= len(keys):
                return PlanHandled(user_id, rejected="flag out of range")
            chosen = list(found["new_flags"])
            key = keys[value]
            chosen = [k for k in chosen if k != key] if key in chosen else [*chosen, key]
            await plans.update_checkin(connection, checkin_id, new_flags=chosen)
            batch.say(self._flag_picker(checkin_id, chosen), **edit)
        elif action == "k" and found["new_flags"] is not None:
            await self._complete_checkin(
                connection, user_id, checkin_id, list(found["new_flags"]), batch, edit, now
            )
        else:
            return PlanHandled(user_id, rejected="check-in button out of order")
        return PlanHandled(user_id)

    async def _after_scores(
        self,
        connection: aiosqlite.Connection,
        user_id: int,
        checkin_id: int,
        kind: str,
        batch: _Batch,
        edit: dict[str, Any],
        now: datetime,
    ) -> None:
        if kind == "day_after" and await plans.unsettled_hurt(connection, user_id) is not None:
            batch.say(self._yes_no(self.messages.text("plan.checkin_settled"), f"c:{checkin_id}:s"), **edit)
            return
        await self._after_settled(connection, user_id, checkin_id, kind, batch, edit, now)

    async def _after_settled(
        self,
        connection: aiosqlite.Connection,
        user_id: int,
        checkin_id: int,
        kind: str,
        batch: _Batch,
        edit: dict[str, Any],
        now: datetime,
    ) -> None:
        if kind == "weekly":
            items = "\n".join(f"• {self.messages.text(f'flag.{key}')}" for key in self._screen_keys())
            text = f"{self.messages.text('plan.checkin_flags')}\n\n{items}"
            batch.say(self._yes_no(text, f"c:{checkin_id}:f"), **edit)
            return
        await self._complete_checkin(connection, user_id, checkin_id, [], batch, edit, now)

    async def _complete_checkin(
        self,
        connection: aiosqlite.Connection,
        user_id: int,
        checkin_id: int,
        flags: list[str],
        batch: _Batch,
        edit: dict[str, Any],
        now: datetime,
    ) -> None:
        await plans.update_checkin(connection, checkin_id, new_flags=flags, answered_at=plans.iso(now))
        batch.say(Reply(ReplyKind.QUESTION, self.messages.text("plan.checkin_thanks")), **edit)
        await self._decide(connection, user_id, now, batch, red_flag=bool(flags), flags=flags)

    # ------------------------------------------------------------ deciding

    async def _decide(
        self,
        connection: aiosqlite.Connection,
        user_id: int,
        now: datetime,
        batch: _Batch,
        *,
        red_flag: bool,
        flags: list[str] | None = None,
    ) -> None:
        plan = await plans.plan(connection, user_id)
        if plan is None:
            return
        history = PlanHistory(
            baseline_pain=plan["baseline_pain"],
            started_at=plan["started_at"],
            checkins=tuple(
                CheckinRecord(
                    c["at"], c["pain_now"], c["pain_worst"] if c["pain_worst"] is not None else c["pain_now"]
                )
                for c in await plans.answered_checkins(connection, user_id)
            ),
            sessions=tuple(
                SessionRecord(
                    s["at"], s["outcome"], s["hurt_pain"], s["hurt_settled"], s["settled_next_morning"]
                )
                for s in await plans.sessions_of(connection, user_id)
                if s["outcome"] in SESSION_OUTCOMES  # "sent" and not answered yet: nothing to judge
            ),
            red_flag=red_flag,
        )
        decision = decide(history, now, self.rules)
        m = self.messages
        await plans.update_plan(connection, user_id, last_decision=decision.action)
        if decision.action == "red_flag":
            await self._escalate(connection, user_id, flags or [], batch)
        elif decision.action == "ease":
            if plan["level"] != "eased":
                await plans.update_plan(
                    connection, user_id, level="eased", ball_allowed=0, routine=EASED_ROUTINE
                )
            batch.say(self._with_reasons("plan.decision.ease", decision.reasons))
        elif decision.action == "refer_no_improvement":
            batch.say(self._with_reasons("plan.decision.refer", decision.reasons))
        elif decision.action == "progress":
            await plans.update_plan(connection, user_id, level="progressed")
            step = m.text(f"routine.{plan['routine']}.next_step")
            batch.say(Reply(ReplyKind.INFO, m.text("plan.decision.progress", next_step=step)))
        else:
            batch.say(Reply(ReplyKind.INFO, m.text(f"plan.decision.continue.{decision.change}")))

    async def _escalate(
        self, connection: aiosqlite.Connection, user_id: int, flags: list[str], batch: _Batch
    ) -> None:
        """A red flag at a check-in: the same result as the first check would give, reminders paused."""
        snapshot = await repository.load_snapshot(connection, user_id)
        answers = {**snapshot.answers, **{key: True for key in flags}}
        result: TriageResult = triage(answers, self.content)
        for reply in self.present.result(result, answers, None, snapshot.step):
            batch.say(reply)
        paused = await plans.pause_all(connection, user_id)
        batch.say(Reply(ReplyKind.INFO, self.messages.text("plan.reminders_paused", count=paused)))

    def _with_reasons(self, key: str, reasons: tuple[str, ...]) -> Reply:
        m = self.messages
        lines = [
            f"• {m.text(f'checkin_rule.{reason}')}" for reason in reasons if m.has(f"checkin_rule.{reason}")
        ]
        text = m.text(key) + ("\n\n" + "\n".join(lines) if lines else "")
        return Reply(ReplyKind.ESCALATION, text, title=m.text(f"{key}_title"))

    async def _schedule_day_after(
        self, connection: aiosqlite.Connection, user_id: int, now: datetime
    ) -> None:
        if await plans.pending_day_after(connection, user_id):
            return
        zone = await plans.user_timezone(connection, user_id) or "UTC"
        time = LocalTime.parse(self.rules.schedule.day_after_checkin_time)
        assert time is not None
        tomorrow = (now + timedelta(days=1)).astimezone(ZoneInfo(zone)).date()
        day = WEEKDAYS[tomorrow.weekday()]
        at = next_occurrence((day,), time, zone, now)
        await plans.add_reminder(connection, user_id, "day_after_checkin", (day,), str(time), zone, at)

    # ------------------------------------------------------------ /reminders

    async def list_reminders(self, channel: str, external_id: str) -> int | None:
        """Put the list of reminders, with their buttons, in the user's outbox."""
        async with self.database.write() as connection:
            user_id = await repository.find_user(connection, channel, external_id)
            if user_id is None:
                return None
            batch = _Batch()
            await self._reminder_list(connection, user_id, batch)
            await self._write(connection, user_id, batch)
        return user_id

    async def _reminder_list(self, connection: aiosqlite.Connection, user_id: int, batch: _Batch) -> None:
        m = self.messages
        items = await plans.reminders_of(connection, user_id, ("session", "weekly_checkin"))
        if not items:
            batch.say(Reply(ReplyKind.INFO, m.text("plan.no_reminders")))
            return
        for item in items:
            days = ", ".join(m.text(f"day.{day}") for day in item.days)
            status = m.text(f"plan.status.{item.status}")
            text = m.text(
                f"plan.reminder_line.{item.kind}",
                days=days,
                time=item.local_time,
                zone=item.timezone,
                status=status,
            )
            toggle = (
                ("r", m.text("plan.button.resume"))
                if item.status == "paused"
                else ("p", m.text("plan.button.pause"))
            )
            buttons = (
                (
                    Button(f"m:{item.id}:{toggle[0]}", toggle[1]),
                    Button(f"m:{item.id}:t", m.text("plan.button.change_time")),
                ),
                (Button(f"m:{item.id}:x", m.text("plan.button.delete")),),
            )
            batch.say(Reply(ReplyKind.QUESTION, text, buttons=buttons), standalone=True)

    async def _manage(
        self, connection: aiosqlite.Connection, user_id: int, reminder_id: int, action: str, batch: _Batch
    ) -> PlanHandled:
        found = await plans.reminder(connection, user_id, reminder_id)
        if found is None:
            batch.say(Reply(ReplyKind.INFO, self.messages.text("plan.reminder_gone")))
            return PlanHandled(user_id)
        now = self.clock.now()
        if action == "p":
            await plans.update_reminder(connection, reminder_id, status="paused", clear_due=True)
            batch.say(Reply(ReplyKind.INFO, self.messages.text("plan.paused")))
        elif action == "r":
            await plans.update_reminder(connection, reminder_id, status="active", due_at=found.next_due(now))
            batch.say(Reply(ReplyKind.INFO, self.messages.text("plan.resumed")))
        elif action == "x":
            await plans.delete_reminder(connection, user_id, reminder_id)
            batch.say(Reply(ReplyKind.INFO, self.messages.text("plan.deleted")))
        elif action == "t":
            return PlanHandled(user_id, change_time_of=reminder_id)
        else:
            return PlanHandled(user_id, rejected="unknown reminder action")
        return PlanHandled(user_id)

    # ------------------------------------------------------------ replies

    def _personal_routine(self, plan: dict[str, Any] | None) -> PersonalRoutine:
        """The plan's routine with what the user's answers rule out left out."""
        routine_id = plan["routine"] if plan else "desk-sitter"
        result = TriageResult(
            urgency="SELF_CARE" if plan is None or plan["ball_allowed"] else "ROUTINE",
            reasons=(),
            contraindications=(),
            forbidden_tags=frozenset(plan["forbidden_tags"] if plan else ()),
        )
        return personalise(self.content.routines[routine_id], result, self.content)

    def _reminder_card(self, plan: dict[str, Any] | None) -> Reply:
        """Rendered once per kind of plan, not once per reminder: a minute with a thousand
        reminders due renders a handful of cards."""
        key = (
            (plan["routine"], plan["ball_allowed"], tuple(sorted(plan["forbidden_tags"]))) if plan else None
        )
        card = self._cards.get(key)
        if card is None:
            if len(self._cards) >= 256:
                self._cards.clear()
            card = self._cards[key] = self.present.reminder_card(self._personal_routine(plan))
        return card

    def _session_reply(self, session_id: int, plan: dict[str, Any] | None) -> Reply:
        m = self.messages
        shown = self._reminder_card(plan)
        buttons = (
            (
                Button(f"r:{session_id}:d", m.text("plan.button.done")),
                Button(f"r:{session_id}:z", m.text("plan.button.snooze")),
            ),
            (
                Button(f"r:{session_id}:s", m.text("plan.button.skip")),
                Button(f"r:{session_id}:h", m.text("plan.button.hurt")),
            ),
            (Button(f"r:{session_id}:v", m.text("plan.button.steps")),),
        )
        return Reply(ReplyKind.QUESTION, shown.text, title=shown.title, buttons=buttons)

    def _hurt_where(self, session_id: int) -> Reply:
        buttons = tuple(
            (Button(f"h:{session_id}:a{index}", self.messages.text(f"area.{area}")),)
            for index, area in enumerate(AREAS)
        )
        return Reply(ReplyKind.QUESTION, self.messages.text("plan.hurt_where"), buttons=buttons)

    def _checkin_question(self, checkin_id: int, which: str) -> Reply:
        key = "plan.checkin_pain_now" if which == "n" else "plan.checkin_pain_worst"
        return self._scale(self.messages.text(key), f"c:{checkin_id}:{which}")

    @staticmethod
    def _scale(text: str, prefix: str) -> Reply:
        values = [Button(f"{prefix}{value}", str(value)) for value in range(11)]
        return Reply(ReplyKind.QUESTION, text, buttons=(tuple(values[:6]), tuple(values[6:])))

    def _yes_no(self, text: str, prefix: str) -> Reply:
        m = self.messages
        return Reply(
            ReplyKind.QUESTION,
            text,
            buttons=(
                (Button(f"{prefix}y", m.text("common.yes")), Button(f"{prefix}n", m.text("common.no"))),
            ),
        )

    def _screen_keys(self) -> tuple[str, ...]:
        return self.content.groups["emergency_signs"] + self.content.groups["serious_signs"]

    def _flag_picker(self, checkin_id: int, chosen: list[str]) -> Reply:
        m = self.messages
        mark = m.text("common.selected_mark")
        rows = [
            (
                Button(
                    f"c:{checkin_id}:t{index}",
                    f"{mark} {m.text(f'flag.{key}')}" if key in chosen else m.text(f"flag.{key}"),
                ),
            )
            for index, key in enumerate(self._screen_keys())
        ]
        rows.append((Button(f"c:{checkin_id}:k", m.text("common.done")),))
        return Reply(ReplyKind.QUESTION, m.text("plan.checkin_which_flags"), buttons=tuple(rows))

    async def _write(self, connection: aiosqlite.Connection, user_id: int, batch: _Batch) -> None:
        await on_worker(connection, partial(self._write_sync, user_id=user_id, batch=batch))

    @staticmethod
    def _write_sync(raw: sqlite3.Connection, user_id: int, batch: _Batch) -> None:
        """The batch's replies into the outbox, one row each, in order."""
        for reply, context in batch.replies:
            repository.add_to_outbox_sync(
                raw, user_id, [reply_to_dict(reply)], context, stamp=repository.now()
            )
