"""Gather what a user's reports need from the database, then render them.

/progress and /summary only read, so fronts send their output directly rather
than through the outbox: if a crash interrupts one, the user simply asks again.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bot.core.answers import AREAS, BOOLEAN_KEYS
from bot.core.content import Content
from bot.core.plan_rules import meaningful_change
from bot.core.plan_service import Clock
from bot.core.routines import personalise
from bot.core.triage import TriageResult
from bot.reports.chart import PainPoint, SessionMark, render_progress_chart, summary_lines
from bot.reports.summary import SummaryData, render_summary
from bot.storage import plan_repository as plans
from bot.storage import repository
from bot.storage.database import Database

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


class ReportMaker:
    def __init__(self, content: Content, database: Database, clock: Clock) -> None:
        self.content = content
        self.database = database
        self.clock = clock
        self.messages = content.messages
        self._drawing = asyncio.Lock()

    async def _history(self, channel: str, external_id: str) -> dict[str, Any] | None:
        async with self.database.read() as connection:
            user_id = await repository.find_user(connection, channel, external_id)
            if user_id is None:
                return None
            snapshot = await repository.load_snapshot(connection, user_id)
            return {
                "snapshot": snapshot,
                "plan": await plans.plan(connection, user_id),
                "checkins": await plans.answered_checkins(connection, user_id),
                "sessions": await plans.sessions_of(connection, user_id),
                "zone": await plans.user_timezone(connection, user_id) or "UTC",
            }

    @staticmethod
    def _points(history: dict[str, Any]) -> list[PainPoint]:
        return [PainPoint(c["at"], c["pain_now"], c["pain_worst"]) for c in history["checkins"]]

    @staticmethod
    def _marks(history: dict[str, Any]) -> list[SessionMark]:
        return [
            SessionMark(s["at"], s["outcome"])
            for s in history["sessions"]
            if s["outcome"] in ("done", "hurt", "skipped")
        ]

    @staticmethod
    def _baseline(history: dict[str, Any]) -> int | None:
        plan = history["plan"]
        if plan is not None:
            return int(plan["baseline_pain"])
        pain = history["snapshot"].answers.get("pain_now")
        return int(pain) if isinstance(pain, int) else None

    async def progress(self, channel: str, external_id: str) -> tuple[bytes, str] | None:
        """The chart as PNG bytes and its two-line caption; None when nothing is stored."""
        history = await self._history(channel, external_id)
        if history is None or (history["plan"] is None and not history["snapshot"].answers):
            return None
        points, marks, baseline = self._points(history), self._marks(history), self._baseline(history)
        # Drawing takes about 0.3 s: off the event loop, one chart at a time.
        async with self._drawing:
            png = await asyncio.to_thread(
                render_progress_chart, points, marks, baseline, history["zone"], self.messages
            )
        first, second = summary_lines(points, marks, baseline, self.messages, now=self.clock.now())
        return png, f"{first}\n{second}"

    async def summary(self, channel: str, external_id: str) -> str | None:
        history = await self._history(channel, external_id)
        if history is None or not history["snapshot"].answers:
            return None
        m = self.messages
        snapshot = history["snapshot"]
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
        plan = history["plan"]
        routine_id = str((plan or {}).get("routine") or result.get("routine") or "")
        exercise_names: list[str] = []
        if routine_id in self.content.routines:
            triaged = TriageResult(urgency, (), (), frozenset(result.get("forbidden_tags", [])))
            routine = personalise(self.content.routines[routine_id], triaged, self.content)
            exercise_names = [m.text(f"exercise.{exercise.id}.name") for exercise in routine.exercises]
        points, baseline = self._points(history), self._baseline(history)
        verdict = None
        if points and baseline is not None:
            change = meaningful_change(baseline, points[-1].pain_now, self.content.checkin_rules)
            verdict = m.text(f"plan.decision.continue.{change}")
        data = SummaryData(
            generated_at=self.clock.now(),
            zone=history["zone"],
            answers=answers,
            answer_labels=labels,
            value_labels=values,
            urgency_label=m.text(f"result.title.{urgency}"),
            reasons=reasons,
            routine_name=m.text(f"routine.{routine_id}.name")
            if routine_id in self.content.routines
            else None,
            exercise_names=exercise_names,
            sessions=self._marks(history),
            points=points,
            baseline=baseline,
            change_verdict=verdict,
        )
        return render_summary(data, m)
