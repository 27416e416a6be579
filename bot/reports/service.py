"""Gather what a user's reports need from storage, then render them.

/progress and /summary only read, so fronts send their output directly rather
than through the outbox: if a crash interrupts one, the user simply asks again.
Everything about the routine comes from the person's plan, as on every screen, and
every word is in the person's language.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.core.clock import Clock
from bot.core.content import Content
from bot.core.locales import user_language
from bot.core.messages import Messages
from bot.core.plan.lifecycle import PlanRules
from bot.core.plan.model import Plan, PlanEvent
from bot.core.ports import Storage, Tx
from bot.core.records import Assessment, Checkin, Session, Snapshot
from bot.reports.chart import PAPER, PainPoint, SessionMark, render_progress_chart, summary_lines
from bot.reports.document import SummaryFacts, build_summary_document

SUMMARY_FILE_NAME = "psoasbot-summary.pdf"


@dataclass(frozen=True)
class History:
    """Everything the reports show about one person, read in one consistent view."""

    snapshot: Snapshot
    plan: Plan | None
    events: list[PlanEvent]
    checkins: list[Checkin]
    sessions: list[Session]
    zone: str
    answers: dict[str, Any]
    """The answers of the check that gave the latest result (see `_result_answers`)."""
    assessed_at: datetime | None
    language: str
    """The language the person is written to in (bot/core/locales.py: `user_language`)."""


@dataclass(frozen=True)
class Summary:
    """What /summary sends: a few lines in the chat, then the one-page PDF."""

    message: str
    pdf: bytes
    file_name: str = SUMMARY_FILE_NAME


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
            snapshot = tx.conversations.load_for(user_id)
            assessments = tx.conversations.assessments(user_id)
            return History(
                snapshot=snapshot,
                plan=tx.plans.get(user_id),
                events=tx.plans.events(user_id),
                checkins=tx.checkins.answered(user_id),
                sessions=tx.sessions.of(user_id),
                zone=tx.users.timezone(user_id) or "UTC",
                answers=_result_answers(tx, user_id, snapshot, assessments),
                assessed_at=_parse_time(assessments[-1].created_at) if assessments else None,
                language=user_language(tx, user_id, self.content),
            )

        return await self.storage.read(work)

    def content_for(self, history: History) -> Content:
        """The content in the person's language: every sentence, label and format of a report."""
        return self.content.in_language(history.language)

    def messages_for(self, history: History) -> Messages:
        return self.content_for(history).messages

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

    async def summary(self, channel: str, external_id: str) -> Summary | None:
        """The one-page PDF for a physio or doctor and the lines that go with it in the chat;
        None until the person has a result to show."""
        history = await self.history(channel, external_id)
        if history is None or history.snapshot.result is None:
            return None
        now = self.clock.now()
        # The paper chart and the page take about half a second together: off the event loop,
        # one drawing at a time (as the phone chart).
        async with self._drawing:
            pdf = await asyncio.to_thread(self._summary_pdf, history, now)
        points, marks, baseline = self.points(history), self.marks(history), self.baseline(history)
        m = self.messages_for(history)
        trend, sessions = summary_lines(points, marks, baseline, m, now=now)
        return Summary(f"{m.text('report.summary.message')}\n\n{trend}\n{sessions}", pdf)

    def _summary_pdf(self, history: History, now: datetime) -> bytes:
        from bot.reports.pdf import render_summary_pdf

        content = self.content_for(history)
        points, marks, baseline = self.points(history), self.marks(history), self.baseline(history)
        chart = None
        if points:
            margin = content.checkin_rules.change_points
            chart = render_progress_chart(
                points, marks, baseline, history.zone, content.messages, margin, style=PAPER
            )
        facts = SummaryFacts(
            generated_at=now,
            zone=history.zone,
            answers=history.answers,
            result=history.snapshot.result,
            checked_at=_checked_at(history),
            plan=history.plan,
            events=history.events,
            sessions=history.sessions,
            checkins=history.checkins,
            baseline=baseline,
            chart=chart,
        )
        return render_summary_pdf(build_summary_document(facts, content))


def _result_answers(
    tx: Tx, user_id: int, snapshot: Snapshot, assessments: list[Assessment]
) -> dict[str, Any]:
    """The answers behind the latest result. Usually the conversation still holds them; after
    a new check was started (or started and cancelled) they are the stored answers of the
    check that result came from, which the data export lists by check."""
    latest = assessments[-1] if assessments else None
    if latest is None or latest.check_id is None or latest.check_id == snapshot.check_id:
        return dict(snapshot.answers)
    exported = tx.users.export(user_id)
    return {
        str(row["key"]): row["value"]
        for row in exported.get("answers", ())
        if row.get("check_id") == latest.check_id
    }


def _checked_at(history: History) -> datetime | None:
    """When the latest result was given: its plan event (on the plan's clock, as every other
    date on the page), else the moment the result was stored."""
    for event in reversed(history.events):
        if event.event in ("assessed_routine", "assessed_urgent") and event.detail.get("source") == "result":
            return event.at
    return history.assessed_at


def _parse_time(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
