"""Gather what a user's reports need from storage, then render them.

/progress and /summary only read, so fronts send their output directly rather
than through the outbox: if a crash interrupts one, the user simply asks again.
Everything about the routine comes from the person's plan, as on every screen, and
every word is in the person's language.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bot.core.answers import AREAS, BOOLEAN_KEYS
from bot.core.clock import Clock
from bot.core.content import Content
from bot.core.locales import user_language
from bot.core.messages import Messages
from bot.core.plan.lifecycle import PlanRules
from bot.core.plan.model import Plan, PlanEvent
from bot.core.plan.rules import meaningful_change
from bot.core.ports import Storage, Tx
from bot.core.records import Checkin, Session, Snapshot
from bot.core.routines import plan_routine
from bot.reports.chart import PainPoint, SessionMark, render_progress_chart, summary_lines
from bot.reports.summary import SummaryData, render_summary

ANSWER_ORDER = (
    "pain_location",
    "radiates_to",
    "worse_when_sitting",
    "worse_rising_from_chair",
    "duration_weeks",
    "pain_now",
    "age",
    "sex",
)


@dataclass(frozen=True)
class History:
    """Everything the reports show about one person, read in one consistent view."""

    snapshot: Snapshot
    plan: Plan | None
    events: list[PlanEvent]
    checkins: list[Checkin]
    sessions: list[Session]
    zone: str
    language: str = "en"


class ReportMaker:
    def __init__(self, content: Content, storage: Storage, clock: Clock, plan_rules: PlanRules) -> None:
        self.content = content
        self.storage = storage
        self.clock = clock
        self.plan_rules = plan_rules
        self.messages = content.messages
        self._drawing = asyncio.Lock()

    async def history(self, channel: str, external_id: str) -> History | None:
        def work(tx: Tx) -> History | None:
            user_id = tx.users.find(channel, external_id)
            if user_id is None:
                return None
            return History(
                snapshot=tx.conversations.load_for(user_id),
                plan=tx.plans.get(user_id),
                events=tx.plans.events(user_id),
                checkins=tx.checkins.answered(user_id),
                sessions=tx.sessions.of(user_id),
                zone=tx.users.timezone(user_id) or "UTC",
                language=user_language(tx, user_id, self.content),
            )

        return await self.storage.read(work)

    def messages_for(self, history: History) -> Messages:
        return self.content.in_language(history.language).messages

    @staticmethod
    def points(history: History) -> list[PainPoint]:
        return [PainPoint(c.at, c.pain_now, c.pain_worst) for c in history.checkins if c.pain_now is not None]

    @staticmethod
    def marks(history: History) -> list[SessionMark]:
        return [
            SessionMark(s.at, s.outcome) for s in history.sessions if s.outcome in ("done", "hurt", "skipped")
        ]

    @staticmethod
    def baseline(history: History) -> int | None:
        if history.plan is not None and history.plan.baseline_pain is not None:
            return history.plan.baseline_pain
        pain = history.snapshot.answers.get("pain_now")
        return int(pain) if isinstance(pain, int) else None

    async def chart(self, history: History) -> bytes:
        points, marks, baseline = self.points(history), self.marks(history), self.baseline(history)
        margin = self.content.checkin_rules.change_points
        # Drawing takes about 0.3 s: off the event loop, one chart at a time.
        async with self._drawing:
            return await asyncio.to_thread(
                render_progress_chart,
                points,
                marks,
                baseline,
                history.zone,
                self.messages_for(history),
                margin,
            )

    async def progress(self, channel: str, external_id: str) -> tuple[bytes, str] | None:
        """The chart as PNG bytes and its two-line caption; None when nothing is stored."""
        history = await self.history(channel, external_id)
        if history is None or (history.plan is None and not history.snapshot.answers):
            return None
        png = await self.chart(history)
        points, marks, baseline = self.points(history), self.marks(history), self.baseline(history)
        first, second = summary_lines(
            points, marks, baseline, self.messages_for(history), now=self.clock.now()
        )
        return png, f"{first}\n{second}"

    async def summary(self, channel: str, external_id: str) -> str | None:
        history = await self.history(channel, external_id)
        if history is None or not history.snapshot.answers:
            return None
        m = self.messages_for(history)
        snapshot = history.snapshot
        result = snapshot.result or {}
        answers = {key: snapshot.answers[key] for key in ANSWER_ORDER if key in snapshot.answers}
        answers.update(
            {key: True for key in BOOLEAN_KEYS if snapshot.answers.get(key) is True and key not in answers}
        )
        labels = {
            key: m.text(f"report.answer.{key}") if m.has(f"report.answer.{key}") else m.text(f"flag.{key}")
            for key in answers
            if m.has(f"report.answer.{key}") or m.has(f"flag.{key}")
        }
        values = {area: m.text(f"area.{area}") for area in AREAS}
        values.update(
            {
                "F": m.text("question.sex.option.female"),
                "M": m.text("question.sex.option.male"),
                "X": m.text("question.sex.option.other"),
            }
        )
        urgency = str(result.get("urgency", "SELF_CARE"))
        reasons = [
            m.text(f"red_flag.{rid}.reason")
            for rid in result.get("reasons", [])
            if m.has(f"red_flag.{rid}.reason")
        ]
        routine = plan_routine(history.plan, self.content)
        points, baseline = self.points(history), self.baseline(history)
        verdict = None
        if points and baseline is not None:
            change = meaningful_change(baseline, points[-1].pain_now, self.content.checkin_rules)
            rules = self.content.checkin_rules
            verdict = m.text(
                f"report.change.{change}", points=rules.change_points, percent=rules.change_percent
            )
        data = SummaryData(
            generated_at=self.clock.now(),
            zone=history.zone,
            answers=answers,
            answer_labels=labels,
            value_labels=values,
            urgency_label=m.text(f"result.title.{urgency}"),
            reasons=reasons,
            routine_name=m.text(f"routine.{routine.id}.name") if routine is not None else None,
            exercise_names=[m.text(f"exercise.{exercise.id}.name") for exercise in routine.exercises]
            if routine is not None
            else [],
            sessions=self.marks(history),
            points=points,
            baseline=baseline,
            change_verdict=verdict,
        )
        return render_summary(data, m)
