"""What the one-page summary says: a person's stored history as a `SummaryDocument`.

The reader is a physio or doctor with a minute to spare, so the page leads with what the
answers suggest and why, then the answers exactly as the person gave them (the labels of
the buttons they tapped, or what they typed), every warning sign and precaution asked
about with its answer, the routine and each change of the plan, sessions and "this hurts"
reports, and the pain check-ins against the start with the chart beside them.

Every word comes from the `report.*` messages (and the labels the person saw); this module
only chooses what goes where. `bot/reports/pdf.py` lays it out on one A4 page, which never
drops a heading or a row, so no warning-sign answer is ever left off.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from bot.core.content import Content, Question
from bot.core.messages import Messages
from bot.core.plan.model import Plan, PlanEvent
from bot.core.plan.rules import meaningful_change
from bot.core.policy import Urgency
from bot.core.presenter import Presenter
from bot.core.records import Checkin, Session
from bot.core.routines import plan_routine
from bot.core.triage import merge_text_findings
from bot.reports.chart import as_local, user_zone
from bot.reports.dates import day, day_and_time
from bot.reports.pdf import Figure, Row, Section, SummaryDocument, Table

WARNING_GROUPS: Final[tuple[str, ...]] = ("emergency_signs", "serious_signs")
"""The groups of yes/no keys listed as warning signs; `precautions` is listed on its own."""
PRECAUTIONS_GROUP: Final[str] = "precautions"
CHECKIN_EVENT_WINDOW: Final[timedelta] = timedelta(minutes=5)
"""A plan change this soon after a check-in was answered is what that check-in changed."""
SESSION_OUTCOMES: Final[tuple[str, ...]] = ("done", "hurt", "skipped")
NO_BREAK: Final[str] = "\u00a0"


@dataclass(frozen=True)
class SummaryFacts:
    """One person's history as the summary needs it, read in one consistent view."""

    generated_at: datetime
    zone: str
    answers: Mapping[str, Any]
    """The answers of the check that gave the latest result ({} when there is none)."""
    result: Mapping[str, Any] | None
    """The latest result as stored: urgency, reasons, contraindications, ball_release_allowed."""
    checked_at: datetime | None
    plan: Plan | None
    events: Sequence[PlanEvent]
    sessions: Sequence[Session]
    checkins: Sequence[Checkin]
    baseline: int | None
    chart: bytes | None = None
    """The pain chart drawn for paper (bot/reports/chart.py: PAPER), when there are check-ins."""


def build_summary_document(facts: SummaryFacts, content: Content) -> SummaryDocument:
    """The page, in the language of `content` (`content.in_language(code)` for a person's own:
    its sentences, labels, lists and dates)."""
    return _Builder(facts, content).document()


class _Builder:
    def __init__(self, facts: SummaryFacts, content: Content) -> None:
        self.facts = facts
        self.content = content
        self.m: Messages = content.messages
        self.locale = self.m.locale
        """Where dates come from: the language's CLDR formats (`language.formats`)."""
        self.tz = user_zone(facts.zone)
        self.checkins = sorted(
            (c for c in facts.checkins if c.pain_now is not None), key=lambda c: as_local(c.at, self.tz)
        )

    def document(self) -> SummaryDocument:
        m = self.m
        sections = [
            self._result(),
            self._answers(),
            self._flags("report.summary.flags_heading", WARNING_GROUPS),
            self._flags("report.summary.precautions_heading", (PRECAUTIONS_GROUP,)),
            self._plan(),
            self._sessions(),
            self._checkins(),
        ]
        subtitle = m.text(
            "report.summary.subtitle",
            date=day_and_time(self.facts.generated_at, self.tz, self.locale),
            zone=m.zone(self.tz.key),
        )
        return SummaryDocument(
            title=m.text("report.summary.title"),
            subtitle=subtitle,
            sections=tuple(sections),
            footer=" ".join(m.text("report.summary.not_a_diagnosis").split()),
            language=m.language.replace("_", "-"),
        )

    # ------------------------------------------------------------ what the answers suggest

    def _result(self) -> Section:
        m = self.m
        result = self.facts.result or {}
        urgency = str(result.get("urgency", ""))
        rows: list[Row] = []
        bullets: list[str] = []
        if urgency and m.has(f"report.urgency.{urgency}"):
            rows.append(Row(m.text("report.summary.result_row"), m.text(f"report.urgency.{urgency}"), True))
            if self.facts.checked_at is not None:
                rows.append(Row(m.text("report.summary.checked_row"), self._day(self.facts.checked_at)))
            offers_routine = Urgency(urgency).offers_routine
            if offers_routine:  # with no exercise at all, whether ball work was offered says nothing
                ball = bool(result.get("ball_release_allowed"))
                if self.facts.plan is not None and not self.facts.plan.ball_allowed:
                    ball = False
                offered = "report.summary.ball_offered" if ball else "report.summary.ball_not_offered"
                rows.append(Row(m.text("report.summary.ball_row"), m.text(offered)))
            # The reasons at the result's own urgency, as the person was shown them (bot/core/presenter.py).
            top = [
                rule
                for rule in self.content.red_flags
                if rule.id in result.get("reasons", ()) and rule.urgency.value == urgency
            ]
            if top:
                bullets += [m.text(f"red_flag.{rule.id}.reason") for rule in top]
            else:
                presenter = Presenter(self.content)
                bullets += [_sentence(line) for line in presenter.self_care_reasons(dict(self.facts.answers))]
            if offers_routine:
                bullets += [
                    m.text(f"contraindication.{cid}")
                    for cid in result.get("contraindications", ())
                    if m.has(f"contraindication.{cid}")
                ]
        heading = m.text("report.summary.result_heading")
        if not rows:
            return Section(heading, paragraphs=(m.text("report.summary.no_result"),))
        paragraphs = (m.text("report.summary.why"),) if bullets else ()
        return Section(heading, rows=tuple(rows), paragraphs=paragraphs, bullets=tuple(bullets))

    # ------------------------------------------------------------ the answers as given

    def _answers(self) -> Section:
        m = self.m
        rows: list[Row] = []
        for question in self.content.questions.values():
            label_key = f"report.answer.{question.id}"
            if not m.has(label_key):
                continue  # not a question of the symptom check the summary lists (consent, set-up, groups)
            value = self._answer(question)
            if value is not None:
                rows.append(Row(m.text(label_key), value))
        if not rows:
            return Section(
                m.text("report.summary.answers_heading"), paragraphs=(m.text("report.summary.no_answers"),)
            )
        return Section(m.text("report.summary.answers_heading"), rows=tuple(rows), columns=2)

    def _answer(self, question: Question) -> str | None:
        """The answer in the words the person saw: the label of the button they tapped, or
        what they typed; None when the question was not answered."""
        m = self.m
        answers = self.facts.answers
        given = answers.get("given")
        chosen = given.get(question.id) if isinstance(given, Mapping) else None
        if question.type == "free_text":
            text = answers.get("text")
            return str(text).strip() if isinstance(text, str) and text.strip() else None
        if question.type == "number":
            value = answers.get(question.key or "")
            return m.text("report.pain_value", pain=value) if isinstance(value, int) else None
        if question.type == "yes_no":
            value = answers.get(question.key or "")
            if not isinstance(value, bool):
                return None
            which = "yes" if value else "no"
            specific = f"question.{question.id}.option.{which}"
            return m.text(specific if m.has(specific) else f"common.{which}")
        if question.type == "multi_choice":
            picked = answers.get(question.key or "")
            if not isinstance(picked, list):
                return None
            if not picked:
                return m.text("common.none_of_these")
            labels = {option.id: m.text(option.label_key) for option in question.options}
            return m.join(m.in_a_list(labels.get(str(item), str(item)) for item in picked))
        if isinstance(chosen, Mapping) and "option" in chosen:
            option = question.option(str(chosen["option"]))
            return m.text(option.label_key) if option is not None else None
        typed = chosen.get("value") if isinstance(chosen, Mapping) else answers.get(question.key or "")
        return self._typed(question, typed)

    def _typed(self, question: Question, value: object) -> str | None:
        """A value the person typed instead of tapping a button ("about 3 weeks", "42")."""
        if value is None or isinstance(value, bool):
            return None
        if question.key == "duration_weeks" and isinstance(value, int | float):
            if float(value).is_integer():
                return self.m.plural("report.value.weeks", int(value))
            return self.m.plural("report.value.days", round(float(value) * 7))
        if isinstance(value, int | float):
            return self.m.number(value)
        # a typed choice stored as its value ("F"): said with the button it stands for
        option = question.option_setting(value)
        return self.m.text(option.label_key) if option is not None else str(value)

    # ------------------------------------------------------------ warning signs and precautions

    def _flags(self, heading: str, groups: Sequence[str]) -> Section:
        """Every key of the groups with its answer: a yes (bold) from the check, from the person's
        own words, or from a later check-in; no; or not asked (the check ended before it)."""
        m = self.m
        answers = self.facts.answers
        from_words = merge_text_findings(answers, self.content) if answers else {}
        at_checkin: dict[str, datetime] = {}
        for checkin in self._checkins_with_flags():
            for key in checkin.new_flags or ():
                at_checkin.setdefault(key, checkin.answered_at or checkin.at)
        rows: list[Row] = []
        later: list[str] = []
        for group in groups:
            for key in self.content.groups.get(group, ()):
                label = m.text(f"flag_short.{key}") if m.has(f"flag_short.{key}") else m.text(f"flag.{key}")
                if answers.get(key) is True:
                    rows.append(Row(label, m.text("report.yes"), True))
                elif from_words.get(key) is True:
                    rows.append(Row(label, m.text("report.flag.in_own_words"), True))
                elif key in at_checkin:
                    # A short mark in the grid (a long value would break its columns), the date below.
                    rows.append(Row(label, m.text("report.flag.at_checkin"), True))
                    later.append(
                        m.text("report.flag.at_checkin_item", flag=label, date=self._day(at_checkin[key]))
                    )
                elif answers.get(key) is False:
                    rows.append(Row(label, m.text("report.no")))
                else:
                    rows.append(Row(label, m.text("report.flag.not_asked")))
        notes = (m.text("report.flag.at_checkin_note", flags=m.join(later)),) if later else ()
        return Section(m.text(heading), rows=tuple(rows), columns=3, paragraphs=notes)

    def _checkins_with_flags(self) -> list[Checkin]:
        return [c for c in self.facts.checkins if c.new_flags]

    # ------------------------------------------------------------ the routine and the plan

    def _plan(self) -> Section:
        m = self.m
        plan = self.facts.plan
        rows: list[Row] = []
        if plan is not None:
            rows.append(
                Row(m.text("report.summary.plan_row"), m.text(f"report.plan_state.{plan.state.value}"))
            )
            routine = plan_routine(plan, self.content)
            if routine is not None:
                name = m.text(f"routine.{routine.id}.name")
                levels = routine.routine.level_count
                if levels > 1:
                    name = m.text(
                        "report.summary.routine_level", name=name, step=routine.level + 1, steps=levels
                    )
                rows.append(Row(m.text("report.summary.routine_row"), name))
                exercises = m.join(m.text(f"exercise.{e.id}.name") for e in routine.exercises)
                rows.append(
                    Row(m.text("report.summary.exercises_row"), exercises or m.text("report.none_value"))
                )
                if routine.left_out:
                    left = m.join(m.text(f"exercise.{item.exercise_id}.name") for item in routine.left_out)
                    rows.append(Row(m.text("report.summary.left_out_row"), left))
        table = None
        if self.facts.events:
            events = sorted(self.facts.events, key=lambda event: as_local(event.at, self.tz))
            table = Table(
                (
                    m.text("report.summary.column_date"),
                    m.text("report.summary.column_change"),
                    m.text("report.summary.column_why"),
                ),
                tuple((self._day(e.at), self._event(e), self._reasons(e)) for e in events),
                self._left_out("report.summary.events_left_out"),
            )
        paragraphs = () if rows or table else (m.text("report.summary.no_plan"),)
        return Section(
            m.text("report.summary.routine_heading"), rows=tuple(rows), paragraphs=paragraphs, table=table
        )

    def _event(self, event: PlanEvent) -> str:
        """What changed, in a few words: "Eased to the Gentle routine while you wait"."""
        m = self.m
        detail = event.detail
        routine = str(detail.get("routine", ""))
        params: dict[str, object] = {
            "routine": m.text(f"routine.{routine}.name") if m.has(f"routine.{routine}.name") else routine,
            "urgency": m.text(f"report.urgency_short.{detail.get('urgency', '')}")
            if m.has(f"report.urgency_short.{detail.get('urgency', '')}")
            else "",
            "step": int(detail.get("level", 0) or 0) + 1,
            "from_pain": detail.get("from_pain", ""),
            "to_pain": detail.get("to_pain", ""),
        }
        key = f"report.plan_event.{event.event}"
        if event.event == "assessed_urgent" and detail.get("source") == "checkin":
            key = "report.plan_event.assessed_urgent_at_checkin"
        if not m.has(key):
            return event.event
        return m.text(key, **{name: value for name, value in params.items() if name in m.placeholders(key)})

    def _reasons(self, event: PlanEvent) -> str:
        m = self.m
        said: list[str] = []
        for reason in event.reasons:
            if m.has(f"checkin_rule.{reason}"):
                text = _sentence(m.text(f"checkin_rule.{reason}"))
            elif m.has(f"red_flag.{reason}.reason"):
                text = m.text(f"red_flag.{reason}.reason")
            elif m.has(f"report.reason.{reason}"):
                text = m.text(f"report.reason.{reason}")
            else:
                continue
            if text not in said:
                said.append(text)
        return m.text("report.summary.changes_joiner").join(said) if said else m.text("report.no_value")

    # ------------------------------------------------------------ sessions

    def _sessions(self) -> Section:
        m = self.m
        heading = m.text("report.summary.sessions_heading")
        sessions = sorted(
            (s for s in self.facts.sessions if s.outcome in SESSION_OUTCOMES),
            key=lambda s: as_local(s.at, self.tz),
        )
        if not sessions:
            return Section(heading, paragraphs=(m.text("report.summary.no_sessions"),))
        hurt = [s for s in sessions if s.outcome == "hurt"]
        done = [s for s in sessions if s.outcome in ("done", "hurt")]
        rows = (
            Row(m.text("report.summary.sessions_done"), m.number(len(done))),
            Row(
                m.text("report.summary.sessions_guided"),
                m.number(sum(1 for s in done if s.guide is not None)),
            ),
            Row(m.text("report.summary.sessions_hurt"), m.number(len(hurt))),
            Row(
                m.text("report.summary.sessions_skipped"),
                m.number(sum(1 for s in sessions if s.outcome == "skipped")),
            ),
            Row(
                m.text("report.summary.sessions_period"),
                m.text(
                    "report.summary.period", first=self._day(sessions[0].at), last=self._day(sessions[-1].at)
                ),
            ),
        )
        table = None
        if hurt:
            table = Table(
                (
                    m.text("report.summary.column_date"),
                    m.text("report.summary.column_exercise"),
                    m.text("report.summary.column_where"),
                    m.text("report.summary.column_pain"),
                    m.text("report.summary.column_settled"),
                ),
                tuple(self._hurt_row(s) for s in hurt),
                self._left_out("report.summary.hurts_left_out"),
            )
        return Section(heading, rows=rows, columns=3, table=table)

    def _hurt_row(self, session: Session) -> tuple[str, ...]:
        m = self.m
        exercise = session.hurt_exercise
        if exercise and m.has(f"exercise.{exercise}.name"):
            what = m.text(f"exercise.{exercise}.name")
        else:
            what = m.text("plan.hurt_not_sure_which") if exercise else m.text("report.no_value")
        where = m.text(f"area.{session.hurt_area}") if session.hurt_area else m.text("report.no_value")
        pain = (
            m.text("report.pain_value", pain=session.hurt_pain)
            if session.hurt_pain is not None
            else m.text("report.no_value")
        )
        if session.hurt_settled is True:
            settled = m.text("report.yes")
        elif session.hurt_settled is False and session.settled_next_morning is True:
            settled = m.text("report.hurt.settled_next_morning")
        elif session.hurt_settled is False and session.settled_next_morning is False:
            settled = m.text("report.hurt.not_settled_next_morning")
        elif session.hurt_settled is False:
            settled = m.text("report.no")
        else:
            settled = m.text("report.not_answered")
        return (self._day(session.at), what, where, pain, settled)

    # ------------------------------------------------------------ check-ins and the trend

    def _checkins(self) -> Section:
        m = self.m
        heading = m.text("report.summary.checkins_heading")
        facts = self.facts
        rules = self.content.checkin_rules
        paragraphs: list[str] = []
        if facts.baseline is None:
            paragraphs.append(m.text("report.summary.no_baseline"))
        elif facts.checked_at is not None:
            paragraphs.append(
                m.text("report.summary.baseline_on", pain=facts.baseline, date=self._day(facts.checked_at))
            )
        else:
            paragraphs.append(m.text("report.summary.baseline", pain=facts.baseline))
        if not self.checkins:
            paragraphs.append(m.text("report.summary.no_checkins"))
            return Section(heading, paragraphs=tuple(paragraphs))
        latest = self.checkins[-1]
        assert latest.pain_now is not None
        paragraphs.append(m.text("report.summary.latest", pain=latest.pain_now, date=self._day(latest.at)))
        if facts.baseline is not None:
            verdict = meaningful_change(facts.baseline, latest.pain_now, rules)
            paragraphs.append(
                m.text(f"report.change.{verdict}", points=rules.change_points, percent=rules.change_percent)
            )
        table = Table(
            (
                m.text("report.summary.column_date"),
                m.text("report.summary.column_pain_now"),
                m.text("report.summary.column_pain_worst"),
                m.text("report.summary.column_changed"),
            ),
            tuple(self._checkin_row(c) for c in self.checkins),
            self._left_out("report.summary.checkins_left_out"),
        )
        figure = Figure(facts.chart) if facts.chart is not None else None  # its legend says what is what
        return Section(heading, paragraphs=tuple(paragraphs), table=table, figure=figure)

    def _checkin_row(self, checkin: Checkin) -> tuple[str, ...]:
        m = self.m
        assert checkin.pain_now is not None
        worst = (
            m.text("report.pain_value", pain=checkin.pain_worst)
            if checkin.pain_worst is not None
            else m.text("report.no_value")
        )
        changed: list[str] = []
        if self.facts.baseline is not None:
            verdict = meaningful_change(self.facts.baseline, checkin.pain_now, self.content.checkin_rules)
            changed.append(m.text(f"report.change_short.{verdict}"))
        if checkin.new_flags:
            names = m.join(
                m.text(f"flag_short.{key}") if m.has(f"flag_short.{key}") else key
                for key in checkin.new_flags
            )
            changed.append(m.text("report.summary.new_warning_sign", flags=names))
        answered = checkin.answered_at or checkin.at
        for event in self.facts.events:
            if answered <= event.at <= answered + CHECKIN_EVENT_WINDOW:
                changed.append(self._event(event))
        return (
            self._day(checkin.at),
            m.text("report.pain_value", pain=checkin.pain_now),
            worst,
            m.text("report.summary.changes_joiner").join(changed) or m.text("report.no_value"),
        )

    # ------------------------------------------------------------ small parts

    def _day(self, moment: datetime) -> str:
        """A date that never breaks across lines (its spaces are no-break spaces): a narrow
        table column wraps the words beside it instead."""
        this_year = as_local(self.facts.generated_at, self.tz).year
        return day(moment, self.tz, self.locale, this_year=this_year).replace(" ", NO_BREAK)

    def _left_out(self, key: str) -> Callable[[int], str]:
        messages = self.m

        def sentence(count: int) -> str:
            return messages.plural(key, count)

        return sentence


def _sentence(fragment: str) -> str:
    """A reason written to follow "Why:" in a chat ("your pain was clearly worse..."), standing
    first in its own bullet or cell on the page: its first letter up."""
    text = fragment.strip()
    return text[:1].upper() + text[1:]
