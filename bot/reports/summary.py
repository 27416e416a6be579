"""The plain-text summary a person can hand to a physio or doctor.

Plain UTF-8 text, no HTML: headings underlined with === and ---, prose wrapped at
80 columns, check-ins as a small fixed-width table. Every sentence comes from the
`report.*` messages; the caller passes in what needs the rest of the content
(answer labels, value labels, the urgency in words, rendered reason sentences,
routine and exercise names, the meaningful-change verdict).
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from zoneinfo import ZoneInfo

from bot.core.messages import Messages
from bot.reports.chart import PainPoint, SessionMark, as_local, user_zone

WIDTH: Final[int] = 80
_COLUMN_GAP: Final[str] = "   "


@dataclass(frozen=True)
class SummaryData:
    """Everything the summary shows, already looked up by the caller."""

    generated_at: datetime
    zone: str
    answers: Mapping[str, object]  # contract answer keys -> values (bot/core/answers.py)
    answer_labels: Mapping[str, str]  # key -> readable label
    value_labels: Mapping[str, str]  # e.g. "lower_back" -> "Lower back", "F" -> "Woman"
    urgency_label: str
    reasons: Sequence[str]  # sentences
    routine_name: str | None
    exercise_names: Sequence[str]
    sessions: Sequence[SessionMark]
    points: Sequence[PainPoint]
    baseline: int | None
    change_verdict: str | None  # already a sentence, or None


def render_summary(data: SummaryData, messages: Messages) -> str:
    """Return the summary document, ending with a newline."""
    tz = user_zone(data.zone)
    points = sorted(data.points, key=lambda point: as_local(point.at, UTC))
    out: list[str] = []

    title = messages.text("report.summary.title")
    out += [title, "=" * len(title), ""]
    out += _wrap(
        messages.text(
            "report.summary.generated",
            date=messages.date_time(data.generated_at, tz),
            zone=messages.zone(tz.key),
        )
    )

    _heading(out, messages.text("report.summary.answers_heading"))
    if data.answers:
        for key, value in data.answers.items():
            line = messages.text(
                "report.summary.answer_line",
                label=data.answer_labels.get(key, key),
                value=_value(value, data.value_labels, messages),
            )
            out += _wrap(line, indent="    ")
    else:
        out += _wrap(messages.text("report.summary.no_answers"))

    _heading(out, messages.text("report.summary.result_heading"))
    out += _wrap(messages.text("report.summary.urgency", urgency=data.urgency_label), indent="    ")
    out.append("")
    if data.reasons:
        out += _wrap(messages.text("report.summary.reasons"))
        for reason in data.reasons:
            out += _bullet(reason)
    else:
        out += _wrap(messages.text("report.summary.no_reasons"))

    _heading(out, messages.text("report.summary.routine_heading"))
    if data.routine_name is not None:
        out += _wrap(messages.text("report.summary.routine_name", name=data.routine_name), indent="    ")
        if data.exercise_names:
            out += _wrap(messages.text("report.summary.exercises"))
            for name in data.exercise_names:
                out += _bullet(name)
    else:
        out += _wrap(messages.text("report.summary.no_routine"))

    _heading(out, messages.text("report.summary.sessions_heading"))
    out += _sessions(data.sessions, tz, messages)

    _heading(out, messages.text("report.summary.checkins_heading"))
    if points:
        out += _checkin_table(points, tz, messages)
    else:
        out += _wrap(messages.text("report.summary.no_checkins"))

    _heading(out, messages.text("report.summary.trend_heading"))
    if data.baseline is None:
        out += _wrap(messages.text("report.summary.no_baseline"))
    else:
        out += _wrap(messages.text("report.summary.baseline", pain=data.baseline))
    if points:
        latest = points[-1]
        out += _wrap(
            messages.text(
                "report.summary.latest",
                pain=latest.pain_now,
                date=messages.date(as_local(latest.at, tz).date()),
            )
        )
    if data.change_verdict:
        out += _wrap(data.change_verdict)

    out.append("")
    out += _wrap(messages.text("report.summary.not_a_diagnosis"))
    return "\n".join(out) + "\n"


def _heading(out: list[str], heading: str) -> None:
    out += ["", heading, "-" * len(heading)]


def _wrap(text: str, indent: str = "") -> list[str]:
    """Wrap each paragraph of `text` at WIDTH; continuation lines get `indent`."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines += textwrap.wrap(paragraph, WIDTH, subsequent_indent=indent) or [""]
    return lines


def _bullet(text: str) -> list[str]:
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines += textwrap.wrap(paragraph, WIDTH, initial_indent="- ", subsequent_indent="  ") or [""]
    return lines


def _value(value: object, labels: Mapping[str, str], messages: Messages) -> str:
    """An answer in words: yes/no, a list joined with ", ", a label, or the number."""
    if value is None:
        return messages.text("report.not_answered")
    if isinstance(value, bool):
        return messages.text("report.yes" if value else "report.no")
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else list(value)
        if not items:
            return messages.text("report.none_value")
        return messages.join(labels.get(str(item), str(item)) for item in items)
    if isinstance(value, int | float):
        return messages.number(value)
    text = str(value)
    return labels.get(text, text)


def _sessions(sessions: Sequence[SessionMark], tz: ZoneInfo, messages: Messages) -> list[str]:
    """Counts by outcome; a session that hurt was still done, so it is one of the sessions done."""
    if not sessions:
        return _wrap(messages.text("report.summary.no_sessions"))
    hurt = sum(1 for session in sessions if session.outcome == "hurt")
    done = hurt + sum(1 for session in sessions if session.outcome == "done")
    skipped = sum(1 for session in sessions if session.outcome == "skipped")
    moments = sorted(as_local(session.at, tz) for session in sessions)
    lines = _wrap(messages.text("report.summary.sessions_done", count=done))
    lines += _wrap(messages.text("report.summary.sessions_hurt", count=hurt))
    lines += _wrap(messages.text("report.summary.sessions_skipped", count=skipped))
    lines += _wrap(
        messages.text(
            "report.summary.sessions_period",
            first=messages.date(moments[0].date()),
            last=messages.date(moments[-1].date()),
        )
    )
    return lines


def _checkin_table(points: Sequence[PainPoint], tz: ZoneInfo, messages: Messages) -> list[str]:
    """Date and time (user's zone), pain now, worst in 24 h; oldest first."""
    header = [
        messages.text("report.summary.column_date"),
        messages.text("report.summary.column_pain_now"),
        messages.text("report.summary.column_pain_worst"),
    ]
    rows = [
        [
            messages.date_time(point.at, tz),
            messages.text("report.pain_value", pain=point.pain_now),
            messages.text("report.no_value")
            if point.pain_worst_24h is None
            else messages.text("report.pain_value", pain=point.pain_worst_24h),
        ]
        for point in points
    ]
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return _COLUMN_GAP.join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()

    return [line(header), line(["-" * width for width in widths]), *(line(row) for row in rows)]
