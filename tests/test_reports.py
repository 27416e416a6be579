"""The "looking back" reports: the progress chart, the lines under it, the summary."""

from __future__ import annotations

import gc
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import yaml

pytest.importorskip("matplotlib")

import matplotlib.image
from matplotlib import _pylab_helpers
from matplotlib.dates import num2date
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from bot.core.messages import Messages, flatten
from bot.reports import REPORT_MESSAGE_KEYS
from bot.reports.chart import (
    PainPoint,
    SessionMark,
    _build_figure,
    render_progress_chart,
    summary_lines,
)
from bot.reports.summary import SummaryData, render_summary

ROOT = Path(__file__).resolve().parents[1]
MESSAGES = ROOT / "content" / "messages" / "en.yaml"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
START = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def messages() -> Messages:
    with MESSAGES.open(encoding="utf-8") as handle:
        return Messages("en", flatten(yaml.safe_load(handle), "en.yaml"))


def make_points(count: int, start: datetime = START) -> list[PainPoint]:
    return [
        PainPoint(start + timedelta(days=day), max(0, 7 - day // 4), None if day % 5 == 3 else 8 - day // 5)
        for day in range(count)
    ]


def make_sessions(outcomes: Sequence[str], start: datetime = START) -> list[SessionMark]:
    return [
        SessionMark(start + timedelta(days=day, hours=2), outcome) for day, outcome in enumerate(outcomes)
    ]


def artist(figure: Figure, gid: str) -> object | None:
    for axes in figure.axes:
        for child in axes.get_children():
            if child.get_gid() == gid:
                return child
    return None


def line(figure: Figure, gid: str) -> Line2D:
    found = artist(figure, gid)
    assert isinstance(found, Line2D), f"no line with gid {gid!r}"
    return found


def marker_count(figure: Figure, gid: str) -> int:
    found = artist(figure, gid)
    return 0 if found is None else len(np.asarray(line(figure, gid).get_xydata()))


def ydata(found: Line2D) -> list[float]:
    return [float(value) for value in np.asarray(found.get_ydata(), dtype=float)]


def local(number: float, zone: str) -> datetime:
    converted: datetime = num2date(number, tz=ZoneInfo(zone))  # type: ignore[no-untyped-call]
    return converted


# --- messages -----------------------------------------------------------------------------------------


def test_the_messages_file_has_every_report_key_the_code_uses(messages: Messages) -> None:
    used: set[str] = set()
    for source in (ROOT / "bot" / "reports").glob("*.py"):
        if source.name != "__init__.py":
            used |= set(re.findall(r'"(report\.[a-z_.]+)"', source.read_text(encoding="utf-8")))
    assert set(REPORT_MESSAGE_KEYS) <= set(messages.entries)
    assert used <= set(REPORT_MESSAGE_KEYS)
    # Keys chosen at run time (the per-outcome legend labels) are named in full too.
    assert {"report.chart.session_done", "report.chart.session_hurt"} <= used


# --- chart: the PNG -----------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 1, 30])
def test_chart_is_a_png_of_sensible_size(messages: Messages, count: int) -> None:
    png = render_progress_chart(
        make_points(count), make_sessions(["done", "hurt"] * 3), 6, "Europe/London", messages
    )
    assert png.startswith(PNG_SIGNATURE)
    image = matplotlib.image.imread(BytesIO(png), format="png")
    height, width = image.shape[:2]
    assert (width, height) == (800, 500)
    # Not a blank canvas: some pixels are dark (text, lines).
    assert image[..., :3].min() < 0.3


def test_chart_with_nothing_at_all_still_renders(messages: Messages) -> None:
    png = render_progress_chart([], [], None, "UTC", messages)
    assert png.startswith(PNG_SIGNATURE)
    figure = _build_figure([], [], None, "UTC", messages)
    note = artist(figure, "no_data")
    assert note is not None
    assert note.get_text() == messages.text("report.chart.no_data")  # type: ignore[attr-defined]


# --- chart: what is plotted ---------------------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 1, 30, 300])
def test_one_pain_now_marker_per_point(messages: Messages, count: int) -> None:
    points = make_points(count)
    figure = _build_figure(points, [], 5, "UTC", messages)
    assert marker_count(figure, "pain_now") == count
    if count:
        pain_now = line(figure, "pain_now")
        assert pain_now.get_marker() not in (None, "None", "", " ")
        assert ydata(pain_now) == [point.pain_now for point in points]
        assert artist(figure, "no_data") is None
    else:
        assert artist(figure, "no_data") is not None


def test_points_are_plotted_in_time_order(messages: Messages) -> None:
    points = make_points(10)
    figure = _build_figure(list(reversed(points)), [], 5, "UTC", messages)
    assert ydata(line(figure, "pain_now")) == [point.pain_now for point in points]


def test_worst_pain_is_a_lighter_dashed_line_with_gaps(messages: Messages) -> None:
    points = make_points(10)
    figure = _build_figure(points, [], 5, "UTC", messages)
    worst = line(figure, "pain_worst")
    pain_now = line(figure, "pain_now")
    assert worst.get_linestyle() == "--"
    assert (worst.get_alpha() or 1.0) < (pain_now.get_alpha() or 1.0)
    values = ydata(worst)
    assert len(values) == len(points)
    for point, value in zip(points, values, strict=True):
        if point.pain_worst_24h is None:
            assert value != value  # NaN: a gap
        else:
            assert value == point.pain_worst_24h


def test_no_worst_line_when_nobody_answered_it(messages: Messages) -> None:
    points = [PainPoint(START, 4, None)]
    figure = _build_figure(points, [], 5, "UTC", messages)
    assert artist(figure, "pain_worst") is None


def test_session_markers_by_outcome(messages: Messages) -> None:
    outcomes = ["done"] * 9 + ["hurt"] * 2 + ["skipped"] * 3 + ["unknown"]
    figure = _build_figure(make_points(5), make_sessions(outcomes), 5, "UTC", messages)
    assert marker_count(figure, "sessions_done") == 9
    assert marker_count(figure, "sessions_hurt") == 2
    assert marker_count(figure, "sessions_skipped") == 3
    done, hurt = line(figure, "sessions_done"), line(figure, "sessions_hurt")
    assert done.get_marker() != hurt.get_marker()
    assert done.get_markerfacecolor() != hurt.get_markerfacecolor()
    legend_texts = {text.get_text() for legend in figure.legends for text in legend.get_texts()}
    assert messages.text("report.chart.session_done") in legend_texts
    assert messages.text("report.chart.session_hurt") in legend_texts


@pytest.mark.parametrize(("baseline", "low", "high"), [(6, 4, 8), (1, 0, 3), (10, 8, 10), (0, 0, 2)])
def test_baseline_band_is_baseline_plus_minus_two_clipped(
    messages: Messages, baseline: int, low: int, high: int
) -> None:
    figure = _build_figure(make_points(3), [], baseline, "UTC", messages)
    band = artist(figure, "baseline_band")
    assert isinstance(band, Rectangle)
    assert (band.get_y(), band.get_y() + band.get_height()) == (low, high)
    assert ydata(line(figure, "baseline")) == [baseline, baseline]


def test_y_axis_is_zero_to_ten(messages: Messages) -> None:
    figure = _build_figure(make_points(3), [], 5, "UTC", messages)
    main = figure.axes[0]
    assert line(figure, "pain_now").axes is main
    bottom, top = main.get_ylim()
    assert -1 < bottom <= 0 and 10 <= top < 11
    assert list(main.get_yticks()) == [0, 2, 4, 6, 8, 10]
    assert main.get_title() == messages.text("report.chart.title")
    assert main.get_ylabel() == messages.text("report.chart.y_label")


# --- chart: time zone ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("zone", "label"), [("Asia/Tokyo", "2 Mar"), ("UTC", "1 Mar")])
def test_dates_are_in_the_users_zone(messages: Messages, zone: str, label: str) -> None:
    late = datetime(2024, 3, 1, 23, 30, tzinfo=UTC)  # 08:30 on 2 March in Tokyo
    figure = _build_figure([PainPoint(late, 4, 5)], make_sessions(["done"], late), 5, zone, messages)
    pain_now = line(figure, "pain_now")
    axis = figure.axes[-1].xaxis  # the sessions strip carries the date labels
    (x,) = np.asarray(pain_now.get_xdata(orig=False), dtype=float)
    assert axis.get_major_formatter()(x) == label
    assert local(x, zone).date().isoformat() == f"2024-03-0{label[0]}"
    # Ticks fall on local midnights, so each label is the local day that starts there.
    figure.draw_without_rendering()
    ticks = [tick for tick in axis.get_majorticklocs() if axis.get_view_interval()[0] <= tick]
    assert ticks
    for tick in ticks:
        at = local(tick, zone)
        assert (at.hour, at.minute) == (0, 0)
    labels = [text.get_text() for text in axis.get_ticklabels()]
    assert label in labels
    assert figure.axes[-1].get_xlabel() == messages.text("report.chart.x_label", zone=messages.zone(zone))


def test_unknown_zone_falls_back_to_utc_and_says_so(messages: Messages) -> None:
    figure = _build_figure(make_points(2), [], 5, "Mars/Olympus", messages)
    assert figure.axes[-1].get_xlabel() == messages.text("report.chart.x_label", zone="UTC")


# --- chart: no global state, no leaks -----------------------------------------------------------------


def live_figures() -> int:
    gc.collect()
    return sum(1 for thing in gc.get_objects() if isinstance(thing, Figure))


def test_rendering_many_charts_leaves_no_figures_behind(messages: Messages) -> None:
    points, sessions = make_points(30), make_sessions(["done", "hurt", "skipped"] * 5)
    before = live_figures()
    for _ in range(50):
        render_progress_chart(points, sessions, 6, "Asia/Tokyo", messages)
    assert _pylab_helpers.Gcf.get_all_fig_managers() == []
    assert live_figures() <= before


# --- the two lines under the chart --------------------------------------------------------------------

NOW = START + timedelta(days=30)


def test_summary_lines_trend_and_sessions(messages: Messages) -> None:
    points = [PainPoint(START, 6, 7), PainPoint(NOW - timedelta(days=1), 3, 5)]
    sessions = make_sessions(["done"] * 8 + ["hurt"] + ["skipped"] * 2, NOW - timedelta(days=13))
    sessions.append(SessionMark(NOW - timedelta(days=20), "done"))  # outside the 14 days
    trend, done = summary_lines(points, sessions, 6, messages, now=NOW)
    assert trend == "Pain now 3/10, down from 6/10 when you started."
    assert done == "9 sessions done in the last 14 days, 1 that hurt."


@pytest.mark.parametrize(
    ("points", "baseline", "expected"),
    [
        ([], None, "No pain check-ins yet."),
        ([], 6, "You started at 6/10. No pain check-ins since then yet."),
        ([PainPoint(START, 4, None)], None, "Pain now 4/10."),
        ([PainPoint(START, 8, None)], 6, "Pain now 8/10, up from 6/10 when you started."),
        ([PainPoint(START, 6, None)], 6, "Pain now 6/10, the same as when you started."),
        # The latest by time counts, whatever the order given.
        ([PainPoint(START + timedelta(days=1), 2, None), PainPoint(START, 9, None)], 6, "Pain now 2/10"),
    ],
)
def test_trend_line(messages: Messages, points: list[PainPoint], baseline: int | None, expected: str) -> None:
    trend, _ = summary_lines(points, [], baseline, messages, now=NOW)
    assert trend.startswith(expected)


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        ([], "No sessions done in the last 14 days."),
        (["skipped", "skipped"], "No sessions done in the last 14 days."),
        (["done"], "1 session done in the last 14 days."),
        (["hurt"], "1 session done in the last 14 days, and it hurt."),
        (["done", "done", "skipped"], "2 sessions done in the last 14 days."),
    ],
)
def test_sessions_line(messages: Messages, outcomes: list[str], expected: str) -> None:
    _, line_two = summary_lines([], make_sessions(outcomes, NOW - timedelta(days=5)), None, messages, now=NOW)
    assert line_two == expected


# --- the summary document -----------------------------------------------------------------------------

LONG_REASON = (
    "Pain that spreads into the groin and front of the thigh and is worse when you get up from a "
    "chair often comes from the hip flexors, and it usually settles with gentle stretching over a "
    "few weeks, but it should be looked at if it keeps you awake at night."
)


def summary_data(**changes: object) -> SummaryData:
    fields: dict[str, object] = {
        "generated_at": datetime(2024, 3, 20, 23, 30, tzinfo=UTC),
        "zone": "Asia/Tokyo",
        "answers": {
            "pain_location": ["lower_back", "groin"],
            "radiates_to": [],
            "worse_when_sitting": True,
            "fever": False,
            "duration_weeks": 3.0,
            "pain_now": 6,
            "sex": "F",
            "age": None,
            "text": "It started after a long drive " * 6,
        },
        "answer_labels": {
            "pain_location": "Where it hurts",
            "radiates_to": "Where it spreads",
            "worse_when_sitting": "Worse when sitting",
            "fever": "Fever",
            "duration_weeks": "How long (weeks)",
            "pain_now": "Pain at the check (0-10)",
            "sex": "Sex",
            "age": "Age",
            "text": "In their own words",
        },
        "value_labels": {"lower_back": "lower back", "groin": "groin", "F": "Woman"},
        "urgency_label": "See a GP or physio in the next few weeks",
        "reasons": [LONG_REASON, "No warning signs were reported."],
        "routine_name": "Gentle hip flexor routine",
        "exercise_names": ["Half-kneeling hip flexor stretch", "Belly breathing"],
        "sessions": make_sessions(["done", "done", "hurt", "skipped"]),
        "points": [PainPoint(datetime(2024, 3, 1, 23, 30, tzinfo=UTC), 5, 7), PainPoint(START, 6, None)],
        "baseline": 6,
        "change_verdict": "Pain has gone down by less than 2 points, which may not be a real change yet.",
    }
    fields.update(changes)
    return SummaryData(**fields)  # type: ignore[arg-type]


def underlined(text: str, heading: str, rule: str) -> bool:
    return f"\n{heading}\n{rule * len(heading)}\n" in f"\n{text}"


def test_summary_has_every_section(messages: Messages) -> None:
    text = render_summary(summary_data(), messages)
    assert underlined(text, messages.text("report.summary.title"), "=")
    for key in ("answers", "result", "routine", "sessions", "checkins", "trend"):
        assert underlined(text, messages.text(f"report.summary.{key}_heading"), "-"), key
    assert "Generated: 21/03/2024, 08:30 (Tokyo)" in text  # CLDR's en_GB short format, the city
    assert "<" not in text and ">" not in text  # no HTML
    assert text.endswith("\n")


def test_summary_answers_with_labels(messages: Messages) -> None:
    text = render_summary(summary_data(), messages)
    assert "Where it hurts: lower back and groin\n" in text
    assert "Where it spreads: none\n" in text
    assert "Worse when sitting: yes\n" in text
    assert "Fever: no\n" in text
    assert "How long (weeks): 3\n" in text
    assert "Pain at the check (0-10): 6\n" in text
    assert "Sex: Woman\n" in text
    assert "Age: not answered\n" in text


def test_summary_result_routine_sessions_and_trend(messages: Messages) -> None:
    text = render_summary(summary_data(), messages)
    assert "Urgency: See a GP or physio in the next few weeks" in text
    assert "- Pain that spreads into the groin" in text
    assert "- No warning signs were reported." in text
    assert "Routine: Gentle hip flexor routine" in text
    assert "- Half-kneeling hip flexor stretch\n- Belly breathing\n" in text
    assert "Sessions done: 3\n" in text  # the session that hurt was done too
    assert "Of those, sessions that hurt: 1\n" in text
    assert "Sessions skipped: 1\n" in text
    assert "Pain at the start: 6/10\n" in text
    assert "Latest pain: 5/10 (2 Mar 2024)\n" in text  # latest by time, in Tokyo
    assert "which may not be a real change yet." in text


def test_summary_checkin_table_uses_the_local_date(messages: Messages) -> None:
    lines = render_summary(summary_data(), messages).splitlines()
    header = next(i for i, row in enumerate(lines) if row.startswith("Date and time"))
    assert "Pain now" in lines[header] and "Worst in 24 h" in lines[header]
    assert set(lines[header + 1].replace(" ", "")) == {"-"}
    # 23:30 UTC on 1 March is 08:30 on 2 March in Tokyo; rows run oldest first.
    assert re.fullmatch(r"01/03/2024, 18:00 +6/10 +-", lines[header + 2])
    assert re.fullmatch(r"02/03/2024, 08:30 +5/10 +7/10", lines[header + 3])


def test_summary_ends_with_the_self_report_line(messages: Messages) -> None:
    text = render_summary(summary_data(), messages)
    closing = " ".join(messages.text("report.summary.not_a_diagnosis").split())
    assert " ".join(text.split()).endswith(closing)
    assert "not a diagnosis" in closing


def test_summary_lines_fit_in_80_columns(messages: Messages) -> None:
    lines = render_summary(summary_data(), messages).splitlines()
    header = next(i for i, row in enumerate(lines) if row.startswith("Date and time"))
    table = set(range(header, header + 4))
    long_lines = [row for i, row in enumerate(lines) if len(row) > 80 and i not in table]
    assert long_lines == []
    # The long answer and the long reason really were wrapped, not dropped.
    assert max(len(row) for row in lines) > 60
    assert "keeps you awake at night." in render_summary(summary_data(), messages).replace("\n  ", " ")


def test_summary_with_no_sessions_check_ins_or_routine(messages: Messages) -> None:
    text = render_summary(
        summary_data(
            answers={},
            reasons=[],
            routine_name=None,
            exercise_names=[],
            sessions=[],
            points=[],
            baseline=None,
            change_verdict=None,
        ),
        messages,
    )
    for key in ("no_answers", "no_reasons", "no_routine", "no_sessions", "no_checkins", "no_baseline"):
        assert messages.text(f"report.summary.{key}") in text, key
    assert "Latest pain" not in text
    assert underlined(text, messages.text("report.summary.checkins_heading"), "-")
