"""The "looking back" reports: the progress chart (for the phone and for paper) and the lines under it.

The one-page summary is tested in test_summary_pdf.py."""

from __future__ import annotations

import gc
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from io import BytesIO
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import yaml

pytest.importorskip("matplotlib")

import matplotlib.image
import matplotlib.text
from matplotlib import _pylab_helpers
from matplotlib.dates import num2date
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from bot.core.messages import FORMATS_KEY, Messages, flatten
from bot.reports import REPORT_MESSAGE_KEYS
from bot.reports.chart import (
    PAPER,
    PainPoint,
    SessionMark,
    _build_figure,
    render_progress_chart,
    summary_lines,
)

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
    # A sentence chosen by count is looked up by its stem and listed by its `.other` form.
    listed = set(REPORT_MESSAGE_KEYS) | {key.removesuffix(".other") for key in REPORT_MESSAGE_KEYS}
    stems = {key for key in used if any(other.startswith(f"{key}.") for other in listed)}  # ChartStyle.labels
    assert used - stems <= listed, used - stems - listed
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
    # Each label is the local day its tick starts, and the days run on across a month's end.
    labels = [text.get_text() for text in axis.get_ticklabels()]
    assert labels == [axis.get_major_formatter()(tick) for tick in axis.get_majorticklocs()]
    days = [local(tick, zone).date() for tick in axis.get_majorticklocs()]
    assert len({later - earlier for earlier, later in pairwise(days)}) == 1
    assert figure.axes[-1].get_xlabel() == messages.text("report.chart.x_label", zone=messages.zone(zone))


def test_date_labels_are_in_the_readers_language(messages: Messages) -> None:
    german = Messages("de", {**messages.entries, FORMATS_KEY: "de"})  # English words, German formats
    figure = _build_figure(make_points(3), [], 5, "Europe/Berlin", german)
    axis = figure.axes[-1].xaxis
    (x,) = np.asarray(line(figure, "pain_now").get_xdata(orig=False), dtype=float)[:1]
    assert axis.get_major_formatter()(x) == "1. März"


def test_unknown_zone_falls_back_to_utc_and_says_so(messages: Messages) -> None:
    figure = _build_figure(make_points(2), [], 5, "Mars/Olympus", messages)
    assert figure.axes[-1].get_xlabel() == messages.text("report.chart.x_label", zone="UTC")


# --- chart: on paper ----------------------------------------------------------------------------------


def test_the_paper_chart_is_drawn_at_print_size_with_legible_words(messages: Messages) -> None:
    """Printed half the page's text width (about 9 cm), its words stay at 7 points or more,
    where the phone chart's would shrink to 4."""
    png = render_progress_chart(
        make_points(20), make_sessions(["done", "hurt"]), 6, "UTC", messages, style=PAPER
    )
    image = matplotlib.image.imread(BytesIO(png), format="png")
    height, width = image.shape[:2]
    assert (width / PAPER.dpi, height / PAPER.dpi) == pytest.approx(PAPER.size, abs=0.01)
    figure = _build_figure(make_points(20), make_sessions(["done"]), 6, "UTC", messages, style=PAPER)
    figure.draw_without_rendering()
    sizes = [text.get_fontsize() for text in figure.findobj(matplotlib.text.Text) if text.get_text()]
    assert sizes and min(sizes) >= 6.5
    legend = {text.get_text() for legend in figure.legends for text in legend.get_texts()}
    assert messages.text("report.print_chart.pain_worst") in legend
    assert figure.axes[0].get_title() == ""  # the page's heading names it


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
