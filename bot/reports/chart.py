"""The progress chart: pain over time with sessions along the bottom, as a PNG.

Drawn with matplotlib's object-oriented API (`Figure` + `FigureCanvasAgg`), never
pyplot: there is no global figure registry to leak into and no GUI backend to pick,
so rendering is safe in worker threads. matplotlib is imported only when a chart
is drawn, so importing this module (for the dataclasses or `summary_lines`) is cheap.

Dates on the x axis are shown in the user's time zone and language (CLDR's short
day and month, "7 Dec", "7. Dez."); ticks fall on local midnights (or the first of a
month for long histories).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from io import BytesIO
from typing import TYPE_CHECKING, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.messages import Messages

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DEFAULT_MARGIN: Final[int] = 2
"""The band drawn around the baseline when the caller gives none; the bot passes the
meaningful-change size of content/checkin_rules.yaml."""

SESSION_WINDOW_DAYS: Final[int] = 14
"""How far back `summary_lines` counts sessions."""

OUTCOMES: Final[tuple[str, ...]] = ("done", "hurt", "skipped")


@dataclass(frozen=True)
class ChartStyle:
    """How big the chart is drawn and how large its words are: one chart, two media.

    On a phone the 800 x 500 PNG is shown about as wide as the screen; on the A4 summary
    it is printed about 9 cm wide, where the phone chart's 10-point type would shrink to
    4 points. So the paper chart is drawn at its printed size, with type that stays
    legible on paper, at print resolution, and without a title (the page has headings).
    """

    size: tuple[float, float]  # inches
    dpi: int
    font: float  # points, at the drawn size
    title: bool
    legend_columns: int
    labels: str
    """Message key prefix for the words that differ on paper (the legend and the band)."""


PHONE: Final = ChartStyle((8.0, 5.0), 100, 10.0, True, 3, "report.chart")
"""800 x 500 pixels."""
PAPER: Final = ChartStyle((3.5, 2.3), 300, 8.0, False, 2, "report.print_chart")
"""Printed 8.9 x 5.8 cm (half the page's text width), 1050 x 690 pixels; the page may shrink it
to 60 % when it is full, which still leaves its smallest words at about 4.5 points."""

_MIN_SPAN_DAYS: Final[int] = 7
_LONG_SPAN_DAYS: Final[int] = 200

_PAIN_COLOUR: Final[str] = "#1f5fa8"
_BAND_COLOUR: Final[str] = "#9e9e9e"
# outcome -> (gid, marker, face colour, edge colour, message key)
_SESSION_STYLE: Final[dict[str, tuple[str, str, str, str, str]]] = {
    "done": ("sessions_done", "^", "#2e7d32", "#2e7d32", "report.chart.session_done"),
    "hurt": ("sessions_hurt", "X", "#c62828", "#c62828", "report.chart.session_hurt"),
    "skipped": ("sessions_skipped", "o", "none", "#9e9e9e", "report.chart.session_skipped"),
}


@dataclass(frozen=True)
class PainPoint:
    """One pain check-in."""

    at: datetime  # aware UTC
    pain_now: int  # 0-10
    pain_worst_24h: int | None


@dataclass(frozen=True)
class SessionMark:
    """One routine session and how it went."""

    at: datetime
    outcome: str  # "done", "hurt", "skipped"


def user_zone(zone: str) -> ZoneInfo:
    """The IANA zone `zone`, or UTC if it is unknown (labels then say "UTC", so nothing is hidden)."""
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def as_local(moment: datetime, tz: tzinfo) -> datetime:
    """`moment` in zone `tz`; a naive datetime is taken to be UTC (never the server's zone)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(tz)


def baseline_band(baseline: int, margin: int = DEFAULT_MARGIN) -> tuple[int, int]:
    """The baseline ± the meaningful-change margin, clipped to 0-10."""
    return max(0, baseline - margin), min(10, baseline + margin)


def render_progress_chart(
    points: Sequence[PainPoint],
    sessions: Sequence[SessionMark],
    baseline: int | None,
    zone: str,
    messages: Messages,
    margin: int = DEFAULT_MARGIN,
    style: ChartStyle = PHONE,
) -> bytes:
    """Return a PNG (800 x 500 pixels for the phone) of pain over time.

    Pain now is a line with one marker per check-in, worst pain in 24 h a lighter
    dashed line, the baseline a horizontal band (± `margin`, clipped to
    0-10), and sessions markers in a strip along the bottom (done / hurt / skipped
    differ in shape and colour). With no check-ins the chart carries a note.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = _build_figure(points, sessions, baseline, zone, messages, margin, style)
    try:
        FigureCanvasAgg(figure)
        buffer = BytesIO()
        figure.savefig(buffer, format="png", dpi=style.dpi)
        return buffer.getvalue()
    finally:
        # No pyplot, so nothing global holds the figure; clearing it breaks the
        # figure <-> axes <-> artists cycles so the memory goes back at once.
        figure.clear()


def _build_figure(
    points: Sequence[PainPoint],
    sessions: Sequence[SessionMark],
    baseline: int | None,
    zone: str,
    messages: Messages,
    margin: int = DEFAULT_MARGIN,
    style: ChartStyle = PHONE,
) -> Figure:
    """Build the chart's Figure (not yet rendered). Tests inspect its artists by gid."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    tz = user_zone(zone)
    points = sorted(points, key=lambda point: as_local(point.at, UTC))
    sessions = sorted(
        (session for session in sessions if session.outcome in _SESSION_STYLE),
        key=lambda session: as_local(session.at, UTC),
    )

    font = style.font
    scale = font / PHONE.font  # lines and markers in proportion to the type
    figure = Figure(figsize=style.size, dpi=style.dpi, layout="constrained")
    main, strip = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [7, 1]})
    handles: list[Line2D | Patch] = []

    if style.title:
        main.set_title(messages.text("report.chart.title"), parse_math=False, fontsize=font * 1.2)
    main.set_ylabel(messages.text(f"{style.labels}.y_label"), parse_math=False, fontsize=font)
    main.set_ylim(-0.4, 10.4)
    main.set_yticks(range(0, 11, 2))
    main.tick_params(labelsize=font * 0.9, width=0.8 * scale, length=3.5 * scale)
    strip.tick_params(labelsize=font * 0.9, width=0.8 * scale, length=3.5 * scale)
    for axes in (main, strip):
        for spine in axes.spines.values():
            spine.set_linewidth(0.8 * scale)
    main.grid(axis="y", color="#e0e0e0", linewidth=0.8 * scale)
    main.set_axisbelow(True)

    if baseline is not None:
        low, high = baseline_band(baseline, margin)
        band = main.axhspan(low, high, color=_BAND_COLOUR, alpha=0.18, linewidth=0, gid="baseline_band")
        main.axhline(baseline, color=_BAND_COLOUR, linewidth=1 * scale, linestyle=":", gid="baseline")
        band.set_label(messages.text(f"{style.labels}.baseline", baseline=baseline, margin=margin))
        handles.append(band)

    if points:
        times = [as_local(point.at, tz) for point in points]
        marker_size = (5.0 if len(points) <= 60 else 3.0) * scale
        (now_line,) = main.plot(
            times,
            [point.pain_now for point in points],
            color=_PAIN_COLOUR,
            linewidth=1.8 * scale,
            marker="o",
            markersize=marker_size,
            gid="pain_now",
            label=messages.text(f"{style.labels}.pain_now"),
        )
        handles.insert(0, now_line)
        if any(point.pain_worst_24h is not None for point in points):
            # NaN leaves a gap where a check-in had no worst-pain answer.
            worst = [
                float("nan") if point.pain_worst_24h is None else float(point.pain_worst_24h)
                for point in points
            ]
            (worst_line,) = main.plot(
                times,
                worst,
                color=_PAIN_COLOUR,
                alpha=0.45,
                linewidth=1.4 * scale,
                linestyle="--",
                gid="pain_worst",
                label=messages.text(f"{style.labels}.pain_worst"),
            )
            handles.insert(1, worst_line)
    else:
        main.text(
            0.5,
            0.5,
            messages.text("report.chart.no_data"),
            transform=main.transAxes,
            ha="center",
            va="center",
            wrap=True,
            color="#616161",
            gid="no_data",
            parse_math=False,
            fontsize=font,
        )

    strip.set_ylim(-1, 1)
    strip.set_yticks([])
    strip.set_ylabel(
        messages.text("report.chart.sessions"), rotation=0, ha="right", va="center", fontsize=font * 0.9
    )
    for outcome in OUTCOMES:
        marks = [as_local(session.at, tz) for session in sessions if session.outcome == outcome]
        if not marks:
            continue
        gid, marker, face, edge, key = _SESSION_STYLE[outcome]
        (line,) = strip.plot(
            marks,
            [0] * len(marks),
            linestyle="none",
            marker=marker,
            markersize=7 * scale,
            markeredgewidth=1.0 * scale,
            markerfacecolor=face,
            markeredgecolor=edge,
            gid=gid,
            label=messages.text(key),
        )
        handles.append(line)

    moments = [as_local(point.at, tz) for point in points] + [
        as_local(session.at, tz) for session in sessions
    ]
    if moments:
        _set_date_axis(strip, min(moments).date(), max(moments).date(), tz, messages)
        strip.set_xlabel(
            messages.text("report.chart.x_label", zone=messages.zone(str(tz.key))),
            parse_math=False,
            fontsize=font,
        )
    else:
        strip.set_xticks([])
    main.tick_params(axis="x", labelbottom=False)

    if handles:
        figure.legend(
            handles=handles,
            loc="outside lower center",
            ncols=min(style.legend_columns, len(handles)),
            fontsize=font * 0.85,
            frameon=False,
            handlelength=2.0,
            columnspacing=1.2,
        )
    return figure


def _set_date_axis(axes: Axes, first: date, last: date, tz: ZoneInfo, messages: Messages) -> None:
    """Whole local days from `first` to `last` (at least a week), ticks at local midnights,
    labelled in the reader's language ("2 Mar", "2. März")."""
    from matplotlib.dates import AutoDateLocator, date2num, num2date
    from matplotlib.ticker import FuncFormatter

    days = (last - first).days + 1
    if days < _MIN_SPAN_DAYS:
        pad = _MIN_SPAN_DAYS - days
        first -= timedelta(days=pad // 2)
        last += timedelta(days=pad - pad // 2)
        days = _MIN_SPAN_DAYS
    left = datetime.combine(first, time(0), tzinfo=tz)
    right = datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz)
    # matplotlib.dates ships date2num, AutoDateLocator and DateFormatter without annotations.
    axes.set_xlim(date2num(left), date2num(right))  # type: ignore[no-untyped-call]
    # interval_multiples=False: every n-th day from the first, not days 1, 1+n, ... of each month,
    # which puts "Mar 31" and "Apr 1" side by side.
    locator = AutoDateLocator(tz=tz, minticks=3, maxticks=7, interval_multiples=False)  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)
    long_span = days > _LONG_SPAN_DAYS

    def label(value: float, _position: object = None) -> str:
        moment: datetime = num2date(value, tz=tz)  # type: ignore[no-untyped-call]
        return messages.day_month(moment.date(), with_year=long_span)

    axes.xaxis.set_major_formatter(FuncFormatter(label))


def summary_lines(
    points: Sequence[PainPoint],
    sessions: Sequence[SessionMark],
    baseline: int | None,
    messages: Messages,
    *,
    now: datetime | None = None,
) -> tuple[str, str]:
    """The two lines under the chart: the pain trend, and sessions in the last 14 days.

    A session that hurt was still done, so it counts among the sessions done
    ("9 sessions done in the last 14 days, 1 that hurt."). `now` defaults to the
    current time.
    """
    return _trend_line(points, baseline, messages), _sessions_line(sessions, messages, now)


def _trend_line(points: Sequence[PainPoint], baseline: int | None, messages: Messages) -> str:
    if not points:
        if baseline is None:
            return messages.text("report.trend.none")
        return messages.text("report.trend.baseline_only", baseline=baseline)
    latest = max(points, key=lambda point: as_local(point.at, UTC)).pain_now
    if baseline is None:
        return messages.text("report.trend.latest_only", now=latest)
    if latest < baseline:
        return messages.text("report.trend.down", now=latest, baseline=baseline)
    if latest > baseline:
        return messages.text("report.trend.up", now=latest, baseline=baseline)
    return messages.text("report.trend.same", now=latest)


def _sessions_line(sessions: Sequence[SessionMark], messages: Messages, now: datetime | None) -> str:
    end = datetime.now(UTC) if now is None else as_local(now, UTC)
    start = end - timedelta(days=SESSION_WINDOW_DAYS)
    recent = [session for session in sessions if start <= as_local(session.at, UTC) <= end]
    hurt = sum(1 for session in recent if session.outcome == "hurt")
    done = hurt + sum(1 for session in recent if session.outcome == "done")
    days = SESSION_WINDOW_DAYS
    if done == 0:
        return messages.text("report.sessions.none", days=days)
    if done == 1:
        key = "report.sessions.done_one_hurt" if hurt else "report.sessions.done_one"
        return messages.text(key, days=days)
    key = "report.sessions.done_many_hurt" if hurt else "report.sessions.done_many"
    return messages.text(key, done=done, hurt=hurt, days=days)
