"""The "looking back" reports: the progress chart (PNG) and the plain-text summary.

`bot.reports.chart` draws the chart and the two lines under it; `bot.reports.summary`
writes the document a person can hand to a physio or doctor. Importing this package
does not import matplotlib; drawing a chart does.
"""

from __future__ import annotations

from typing import Final

# Message keys the reports look up; all live under `report.` (content/messages/reports.en.part.yaml).
REPORT_MESSAGE_KEYS: Final[tuple[str, ...]] = (
    "report.yes",
    "report.no",
    "report.none_value",
    "report.not_answered",
    "report.no_value",
    "report.pain_value",
    "report.chart.title",
    "report.chart.y_label",
    "report.chart.x_label",
    "report.chart.pain_now",
    "report.chart.pain_worst",
    "report.chart.baseline",
    "report.chart.sessions",
    "report.chart.session_done",
    "report.chart.session_hurt",
    "report.chart.session_skipped",
    "report.chart.no_data",
    "report.trend.none",
    "report.trend.baseline_only",
    "report.trend.latest_only",
    "report.trend.down",
    "report.trend.up",
    "report.trend.same",
    "report.sessions.none",
    "report.sessions.done_one",
    "report.sessions.done_many",
    "report.sessions.done_one_hurt",
    "report.sessions.done_many_hurt",
    "report.summary.title",
    "report.summary.generated",
    "report.summary.answers_heading",
    "report.summary.no_answers",
    "report.summary.answer_line",
    "report.summary.result_heading",
    "report.summary.urgency",
    "report.summary.reasons",
    "report.summary.no_reasons",
    "report.summary.routine_heading",
    "report.summary.routine_name",
    "report.summary.exercises",
    "report.summary.no_routine",
    "report.summary.sessions_heading",
    "report.summary.sessions_done",
    "report.summary.sessions_hurt",
    "report.summary.sessions_skipped",
    "report.summary.sessions_period",
    "report.summary.no_sessions",
    "report.summary.checkins_heading",
    "report.summary.column_date",
    "report.summary.column_pain_now",
    "report.summary.column_pain_worst",
    "report.summary.no_checkins",
    "report.summary.trend_heading",
    "report.summary.baseline",
    "report.summary.no_baseline",
    "report.summary.latest",
    "report.summary.not_a_diagnosis",
    "report.change.better",
    "report.change.same",
    "report.change.worse",
)
