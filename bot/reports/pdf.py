"""The summary as a one-page A4 PDF, written for a physio or doctor.

The caller builds a `SummaryDocument` in which every word is already translated and
formatted (title, headings, labels, values, table headers, notes), and
`render_summary_pdf` turns it into PDF bytes. This module holds layout only: no
sentences, no clinical meaning, so one renderer serves every language.

One page, always. The page is measured before it is drawn, and when the content is
too tall it gives way in a fixed order, the most repetitive content first:

1. tables lose rows, the longest table first, down to `MIN_TABLE_ROWS` each (rows go
   from the end the table names in `keep`, and its `left_out` sentence says how many);
2. the figure shrinks, down to `MIN_FIGURE_SCALE` of its width;
3. all type shrinks a step at a time, down to `MIN_TYPE_SCALE`;
4. tables lose their remaining rows (the `left_out` sentence stays);
5. long paragraphs, bullets and row values are cut to a few lines, ending in "…";
6. type shrinks further, down to `LAST_RESORT_TYPE_SCALE`.

Space the last cut freed beyond what was needed is then handed back: to the figure
first, then to the tables one at a time in document order, so a table beside a
figure keeps the rows that cost no height. Section
headings and rows (a red-flag answer is a row) are never dropped; only a document
far larger than any summary (hundreds of bullets) could run past step 6, and then
what does not fit is left off the bottom of the page rather than spilling onto a
second one.

Text is drawn in DejaVu Sans, which matplotlib ships in its data directory, so every
Latin-script language renders (ä ß é ñ ¿ – “ ” • ✓ ≥ ±) with nothing else to install.
A character the font lacks becomes U+FFFD rather than an invisible glyph.
"""

from __future__ import annotations

import struct
import unicodedata
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from fpdf import FPDF
    from fpdf.fonts import TTFFont

# --- The record -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One label and its value, e.g. "Pain now" and "6/10"; `emphasis` draws both bold."""

    label: str
    value: str
    emphasis: bool = False


@dataclass(frozen=True)
class Table:
    """A table with a header row.

    When the page is full, rows are left out from the start (`keep="last"`, for a list
    oldest first whose latest rows matter most) or from the end (`keep="first"`), and
    `left_out(count)` is printed under the table: the caller's sentence, so plurals
    come out right in every language ("12 earlier check-ins not shown").
    """

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    left_out: Callable[[int], str]
    keep: Literal["last", "first"] = "last"
    note: str | None = None  # always printed under the table

    def __post_init__(self) -> None:
        if not self.columns:
            raise ValueError("a table needs at least one column")
        for index, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise ValueError(
                    f"table row {index} has {len(row)} cells but there are {len(self.columns)} columns"
                )


@dataclass(frozen=True)
class Figure:
    """A PNG image (the pain chart) with an optional caption under it."""

    png: bytes
    caption: str | None = None

    def __post_init__(self) -> None:
        _png_size(self.png)  # fails early, at the caller, on anything that is not a PNG


@dataclass(frozen=True)
class Section:
    """A heading and its body, drawn in this order: rows, paragraphs, bullets, table.

    Rows are laid out in `columns` columns, read top to bottom then left to right; a
    row whose value would need more than two lines in its column spans the full width
    instead. A figure sits to the right of the body, top-aligned (or alone, centred,
    when the section has no body).
    """

    heading: str
    rows: tuple[Row, ...] = ()
    columns: int = 1
    paragraphs: tuple[str, ...] = ()
    bullets: tuple[str, ...] = ()
    table: Table | None = None
    figure: Figure | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.columns <= MAX_ROW_COLUMNS:
            raise ValueError(f"a section lays out rows in 1 to {MAX_ROW_COLUMNS} columns, not {self.columns}")


@dataclass(frozen=True)
class SummaryDocument:
    """Everything on the page, in the reader's language (`language` is a BCP 47 tag)."""

    title: str
    subtitle: str  # e.g. "Patient-reported, generated 2026-12-04 18:30 (Europe/Berlin)"
    sections: tuple[Section, ...]
    footer: str  # e.g. "Patient-reported information from a self-help bot. Not a diagnosis."
    language: str = "en"


# --- Layout constants (millimetres and points) ----------------------------------------------

MAX_ROW_COLUMNS: Final[int] = 4
MIN_TABLE_ROWS: Final[int] = 4
"""Tables keep at least this many rows before the figure starts to shrink."""
MIN_FIGURE_SCALE: Final[float] = 0.8
MIN_TYPE_SCALE: Final[float] = 0.9
LAST_RESORT_TYPE_SCALE: Final[float] = 0.6

_PAGE_W: Final[float] = 210.0
_PAGE_H: Final[float] = 297.0
_MARGIN_X: Final[float] = 16.0
_MARGIN_TOP: Final[float] = 13.0
_MARGIN_BOTTOM: Final[float] = 10.0
_CONTENT_W: Final[float] = _PAGE_W - 2 * _MARGIN_X
_PT: Final[float] = 25.4 / 72  # millimetres per point

# Type sizes in points at type scale 1.
_TITLE_PT: Final[float] = 13.5
_SUBTITLE_PT: Final[float] = 8.0
_HEADING_PT: Final[float] = 9.5
_BODY_PT: Final[float] = 8.5
_TABLE_PT: Final[float] = 8.0
_SMALL_PT: Final[float] = 7.0
_LEADING: Final[float] = 1.22  # line height / type size

_HEADING_SPACE: Final[float] = 2.8  # above a section heading
_RULE_SPACE: Final[float] = 1.2  # between a heading's rule and the body
_PART_GAP: Final[float] = 1.2  # between rows, paragraphs, bullets and table
_PARAGRAPH_GAP: Final[float] = 0.8
_ROW_GAP: Final[float] = 0.35
_COLUMN_GAP: Final[float] = 5.0
_LABEL_GAP: Final[float] = 2.0
_BULLET_INDENT: Final[float] = 3.5
_CELL_PAD_X: Final[float] = 1.3
_CELL_PAD_Y: Final[float] = 0.4
_FIGURE_SHARE: Final[float] = 0.5  # of the content width, at figure scale 1
_FIGURE_GAP: Final[float] = 5.0
_CAPTION_GAP: Final[float] = 1.0
_WORD_SHARE: Final[float] = 0.4
_ROW_WRAP_LIMIT: Final[int] = 2  # a row value needing more lines in its column goes full width
_LABEL_SHARE: Final[float] = (
    0.8  # of a row's cell at most, so a short value ("no") keeps its label on one line
)
_CLIP_STEPS: Final[tuple[int, ...]] = (6, 4, 2, 1)
_TYPE_STEP: Final[float] = 0.05
_FIGURE_STEP: Final[float] = 0.05
_ELLIPSIS: Final[str] = "…"

_Colour = tuple[int, int, int]
_INK: Final[_Colour] = (28, 28, 28)
_MUTED: Final[_Colour] = (88, 88, 88)
_ACCENT: Final[_Colour] = (44, 74, 107)  # muted slate blue: title rule and headings
_RULE: Final[_Colour] = (196, 196, 196)
_HAIRLINE: Final[_Colour] = (222, 222, 222)
_HEADER_FILL: Final[_Colour] = (236, 237, 239)

_FONT: Final[str] = "dejavu"
_FONT_FILES: Final[dict[str, str]] = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}


# --- Entry point ----------------------------------------------------------------------------


def render_summary_pdf(document: SummaryDocument) -> bytes:
    """The document as a one-page A4 PDF (see the module docstring for how it is made to fit)."""
    from fpdf import FPDF, ViewerPreferences  # imported here: importing this module stays cheap

    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margins(_MARGIN_X, _MARGIN_TOP, _MARGIN_X)
    pdf.c_margin = 0
    fonts = _font_directory()
    for style, filename in _FONT_FILES.items():
        pdf.add_font(_FONT, style, str(fonts / filename))
    pdf.set_title(_clean_plain(document.title))
    pdf.viewer_preferences = ViewerPreferences(display_doc_title=True)  # the title, not "summary.pdf"
    pdf.set_lang(document.language)
    pdf.set_producer("")

    page = _Page(pdf, document)
    fit = _choose_fit(page)
    pdf.add_page()
    page.draw(fit)
    return bytes(pdf.output())


def _font_directory() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


# --- Fitting --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fit:
    """How much of the document is drawn and how large: the knobs the fitting turns."""

    kept: tuple[int, ...]  # rows kept per table, in document order
    figure_scale: float = 1.0
    type_scale: float = 1.0
    max_lines: int | None = None  # per paragraph, bullet and row value


def _choose_fit(page: _Page) -> _Fit:
    """The least reduced `_Fit` whose content fits the page, in the order of the module docstring."""
    full = tuple(len(table.rows) for table in page.tables)
    top = max(full, default=0)
    floor = min(MIN_TABLE_ROWS, top)

    def level(rows: int) -> tuple[int, ...]:
        return tuple(min(count, rows) for count in full)

    start = _Fit(full)
    if page.fits(start):
        return start
    stages: list[list[_Fit]] = [
        [_Fit(level(rows)) for rows in range(top - 1, floor - 1, -1)],
        [_Fit(level(floor), figure_scale=scale) for scale in _steps(1.0, MIN_FIGURE_SCALE, _FIGURE_STEP)],
    ]
    smallest = _Fit(level(floor), figure_scale=MIN_FIGURE_SCALE)
    stages.append([replace(smallest, type_scale=scale) for scale in _steps(1.0, MIN_TYPE_SCALE, _TYPE_STEP)])
    smallest = replace(smallest, type_scale=MIN_TYPE_SCALE)
    stages.append([replace(smallest, kept=level(rows)) for rows in range(floor - 1, -1, -1)])
    smallest = replace(smallest, kept=level(0))
    stages.append([replace(smallest, max_lines=lines) for lines in _CLIP_STEPS])
    smallest = replace(smallest, max_lines=_CLIP_STEPS[-1])
    stages.append(
        [
            replace(smallest, type_scale=scale)
            for scale in _steps(MIN_TYPE_SCALE, LAST_RESORT_TYPE_SCALE, _TYPE_STEP)
        ]
    )
    for candidates in stages:
        found = _first_fitting(page, candidates)
        if found is not None:
            return _hand_back(page, found, full)
    return replace(smallest, type_scale=LAST_RESORT_TYPE_SCALE)


def _steps(start: float, stop: float, step: float) -> list[float]:
    """start - step, start - 2 step, ... down to stop inclusive (rounded, so no 0.6000001)."""
    count = round((start - stop) / step)
    return [round(start - step * index, 4) for index in range(1, count + 1)]


def _first_fitting(page: _Page, candidates: Sequence[_Fit]) -> _Fit | None:
    """The first candidate that fits; candidates only ever get smaller, so bisect."""
    if not candidates or not page.fits(candidates[-1]):
        return None
    index = bisect_left(range(len(candidates)), True, key=lambda i: page.fits(candidates[i]))
    return candidates[index]


def _hand_back(page: _Page, fit: _Fit, full: tuple[int, ...]) -> _Fit:
    """Give back what the cuts took beyond what was needed, in the reverse of the cutting order:
    the figure's size first (a chart too small to read helps no one), then each table's rows,
    in document order."""
    if fit.figure_scale < 1.0:
        larger = [1.0, *_steps(1.0, fit.figure_scale + _FIGURE_STEP, _FIGURE_STEP)]
        fit = _first_fitting(page, [replace(fit, figure_scale=scale) for scale in larger]) or fit
    for index, count in enumerate(full):
        have = fit.kept[index]
        if have >= count:
            continue

        def with_rows(rows: int, base: _Fit = fit, index: int = index) -> _Fit:
            return replace(base, kept=(*base.kept[:index], rows, *base.kept[index + 1 :]))

        more = range(count, have, -1)  # most rows first: the first that fits is the most
        best = _first_fitting(page, [with_rows(rows) for rows in more])
        if best is not None:
            fit = best
    return fit


# --- Measuring and drawing ------------------------------------------------------------------


class _Page:
    """Lays the document out for a `_Fit`: measuring only, or drawing as well.

    One code path does both, so what was measured is exactly what is drawn. Text is
    wrapped here (greedy, on spaces; a word wider than its column is broken between
    characters) from glyph widths, which is fast enough to measure the page dozens of
    times while fitting.
    """

    def __init__(self, pdf: FPDF, document: SummaryDocument) -> None:
        self.pdf = pdf
        self.document = document
        self.tables: tuple[Table, ...] = tuple(
            section.table for section in document.sections if section.table is not None
        )
        self._drawing = False
        self._fit = _Fit(())
        self._limit = _PAGE_H
        self._units: dict[tuple[str, bool], float] = {}
        self._clean: dict[tuple[str, bool], str] = {}
        self._wraps: dict[tuple[str, bool, float, float, int | None], tuple[str, ...]] = {}
        self._cmaps: dict[bool, frozenset[int]] = {}
        self._column_units: dict[int, tuple[list[float], list[float], list[float]]] = {}

    # Public: one measure, one draw.

    def fits(self, fit: _Fit) -> bool:
        self._drawing = False
        return self._lay_out(fit) <= self._content_limit(fit) + 1e-6

    def draw(self, fit: _Fit) -> None:
        self._drawing = True
        self._lay_out(fit)

    # The page, top to bottom.

    def _lay_out(self, fit: _Fit) -> float:
        """Lay out everything for `fit`; return the bottom of the sections."""
        self._fit = fit
        self._limit = self._content_limit(fit)
        self._footer(fit)
        y = self._header(_MARGIN_TOP)
        tables = iter(fit.kept)
        for section in self.document.sections:
            y = self._section(y, section, tables)
        return y

    def _content_limit(self, fit: _Fit) -> float:
        self._fit = fit
        return _PAGE_H - _MARGIN_BOTTOM - self._footer_height() - 2.5

    def _footer_height(self) -> float:
        size = self._size(_SMALL_PT)
        return len(self._wrap(self.document.footer, _CONTENT_W, size)) * self._lh(size) + 1.5

    def _footer(self, fit: _Fit) -> None:
        if not self._drawing:
            return
        size = self._size(_SMALL_PT)
        top = _PAGE_H - _MARGIN_BOTTOM - self._footer_height()
        self._rule(_MARGIN_X, top, _CONTENT_W, _RULE, 0.2, clip=False)
        self._lines(
            _MARGIN_X, top + 1.5, self._wrap(self.document.footer, _CONTENT_W, size), size, clip=False
        )

    def _header(self, y: float) -> float:
        title_pt, subtitle_pt = self._size(_TITLE_PT), self._size(_SUBTITLE_PT)
        y = self._lines(
            _MARGIN_X,
            y,
            self._wrap(self.document.title, _CONTENT_W, title_pt, bold=True),
            title_pt,
            bold=True,
        )
        y += 0.6
        subtitle = self._wrap(self.document.subtitle, _CONTENT_W, subtitle_pt)
        y = self._lines(_MARGIN_X, y, subtitle, subtitle_pt, colour=_MUTED)
        y += 1.6
        self._rule(_MARGIN_X, y, _CONTENT_W, _ACCENT, 0.45)
        return y + 0.6

    def _section(self, y: float, section: Section, tables: Iterator[int]) -> float:
        size = self._size(_HEADING_PT)
        y += _HEADING_SPACE * self._fit.type_scale
        heading = self._wrap(section.heading, _CONTENT_W, size, bold=True)
        y = self._lines(_MARGIN_X, y, heading, size, bold=True, colour=_ACCENT)
        y += 0.5
        self._rule(_MARGIN_X, y, _CONTENT_W, _RULE, 0.2)
        y += _RULE_SPACE * self._fit.type_scale

        has_body = bool(section.rows or section.paragraphs or section.bullets or section.table)
        body_w = _CONTENT_W
        figure_bottom = y
        if section.figure is not None:
            figure_w = _CONTENT_W * _FIGURE_SHARE * self._fit.figure_scale
            if has_body:
                body_w = _CONTENT_W - figure_w - _FIGURE_GAP
                figure_x = _MARGIN_X + _CONTENT_W - figure_w
            else:
                figure_x = _MARGIN_X + (_CONTENT_W - figure_w) / 2
            figure_bottom = self._figure(figure_x, y, figure_w, section.figure)
        body_bottom = self._body(_MARGIN_X, y, body_w, section, tables)
        return max(body_bottom, figure_bottom)

    def _body(self, x: float, y: float, width: float, section: Section, tables: Iterator[int]) -> float:
        top = y
        gap = _PART_GAP * self._fit.type_scale
        if section.rows:
            y = self._rows(x, y, width, section.rows, section.columns)
        if section.paragraphs:
            y += gap if y > top else 0.0
            y = self._paragraphs(x, y, width, section.paragraphs)
        if section.bullets:
            y += gap if y > top else 0.0
            y = self._bullets(x, y, width, section.bullets)
        if section.table is not None:
            y += gap if y > top else 0.0
            y = self._table(x, y, width, section.table, next(tables))
        return y

    # Rows: label and value, in a grid of columns.

    def _rows(self, x: float, y: float, width: float, rows: tuple[Row, ...], columns: int) -> float:
        """Rows in up to `columns` columns: as many as make the block shortest, the fewest on a tie
        (three narrow columns can take more lines than two once long labels wrap)."""
        drawing, self._drawing = self._drawing, False
        heights = [self._row_block(x, y, width, rows, count) for count in range(1, columns + 1)]
        self._drawing = drawing
        best = next(count for count, height in enumerate(heights, 1) if height <= min(heights) + 0.01)
        return self._row_block(x, y, width, rows, best)

    def _row_block(self, x: float, y: float, width: float, rows: tuple[Row, ...], columns: int) -> float:
        size = self._size(_BODY_PT)
        cell_w = (width - (columns - 1) * _COLUMN_GAP) / columns
        label_w = self._label_width(rows, cell_w, size)
        value_w = cell_w - _LABEL_GAP - label_w
        row_gap = _ROW_GAP * self._fit.type_scale
        block: list[Row] = []
        top = y
        for row in rows:
            if len(self._wrap(row.value, value_w, size, bold=row.emphasis)) > _ROW_WRAP_LIMIT and columns > 1:
                if block:
                    y = self._grid(x, y, cell_w, label_w, block, columns) + row_gap
                    block = []
                full_value_w = width - _LABEL_GAP - label_w
                y = self._row(x, y, label_w, full_value_w, row, size) + row_gap
            else:
                block.append(row)
        if block:
            y = self._grid(x, y, cell_w, label_w, block, columns) + row_gap
        return y - row_gap if y > top else y

    def _label_width(self, rows: tuple[Row, ...], cell_w: float, size: float) -> float:
        """Wide enough for the longest label, unless the values then would not fit on one line."""
        labels = max(self._width(row.label, size, row.emphasis) for row in rows)
        short_values = [
            width for row in rows if (width := self._width(row.value, size, row.emphasis)) <= cell_w * 0.75
        ]
        values = max(short_values, default=cell_w * 0.6)
        return min(labels, max(cell_w - _LABEL_GAP - values, cell_w * 0.4), cell_w * _LABEL_SHARE)

    def _grid(
        self, x: float, y: float, cell_w: float, label_w: float, rows: list[Row], columns: int
    ) -> float:
        """Rows top to bottom, then the next column; returns the bottom of the tallest column."""
        size = self._size(_BODY_PT)
        per_column = -(-len(rows) // columns)
        value_w = cell_w - _LABEL_GAP - label_w
        row_gap = _ROW_GAP * self._fit.type_scale
        bottom = y
        for column in range(columns):
            chunk = rows[column * per_column : (column + 1) * per_column]
            column_x = x + column * (cell_w + _COLUMN_GAP)
            column_y = y
            for row in chunk:
                column_y = self._row(column_x, column_y, label_w, value_w, row, size) + row_gap
            if chunk:
                bottom = max(bottom, column_y - row_gap)
        return bottom

    def _row(self, x: float, y: float, label_w: float, value_w: float, row: Row, size: float) -> float:
        label = self._wrap(row.label, label_w, size, bold=row.emphasis)
        value = self._wrap(row.value, value_w, size, bold=row.emphasis, clip=True)
        label_colour = _INK if row.emphasis else _MUTED
        bottom = self._lines(x, y, label, size, bold=row.emphasis, colour=label_colour)
        return max(bottom, self._lines(x + label_w + _LABEL_GAP, y, value, size, bold=row.emphasis))

    # Paragraphs and bullets.

    def _paragraphs(self, x: float, y: float, width: float, paragraphs: tuple[str, ...]) -> float:
        size = self._size(_BODY_PT)
        for index, paragraph in enumerate(paragraphs):
            if index:
                y += _PARAGRAPH_GAP * self._fit.type_scale
            y = self._lines(x, y, self._wrap(paragraph, width, size, clip=True), size)
        return y

    def _bullets(self, x: float, y: float, width: float, bullets: tuple[str, ...]) -> float:
        size = self._size(_BODY_PT)
        indent = _BULLET_INDENT * self._fit.type_scale
        for index, bullet in enumerate(bullets):
            if index:
                y += _ROW_GAP * self._fit.type_scale
            lines = self._wrap(bullet, width - indent, size, clip=True)
            if lines:
                self._lines(x + 0.6, y, ("•",), size, colour=_MUTED)
            y = self._lines(x + indent, y, lines, size)
        return y

    # Tables.

    def _table(self, x: float, y: float, width: float, table: Table, kept: int) -> float:
        size = self._size(_TABLE_PT)
        widths = self._column_widths(table, width, size)
        pad_y = _CELL_PAD_Y * self._fit.type_scale
        left_out = len(table.rows) - kept
        shown = table.rows[len(table.rows) - kept :] if table.keep == "last" else table.rows[:kept]
        if kept or not table.rows:
            y = self._table_row(x, y, widths, table.columns, size, pad_y, header=True)
            for cells in shown:
                y = self._table_row(x, y, widths, cells, size, pad_y, header=False)
        small = self._size(_SMALL_PT)
        notes = [table.left_out(left_out)] if left_out else []
        notes += [table.note] if table.note else []
        for note in notes:
            y = self._lines(x, y + 0.8, self._wrap(note, width, small), small, colour=_MUTED)
        return y

    def _table_row(
        self,
        x: float,
        y: float,
        widths: Sequence[float],
        cells: Sequence[str],
        size: float,
        pad_y: float,
        *,
        header: bool,
    ) -> float:
        wrapped = [
            self._wrap(cell, width - 2 * _CELL_PAD_X, size, bold=header, clip=not header)
            for cell, width in zip(cells, widths, strict=True)
        ]
        height = max(len(lines) for lines in wrapped) * self._lh(size) + 2 * pad_y
        total = sum(widths)
        if self._drawing and self._inside(y + height):
            if header:
                self.pdf.set_fill_color(*_HEADER_FILL)
                self.pdf.rect(x, y, total, height, style="F")
            else:
                self._rule(x, y + height, total, _HAIRLINE, 0.15)
        cell_x = x
        for lines, width in zip(wrapped, widths, strict=True):
            colour = _INK
            self._lines(cell_x + _CELL_PAD_X, y + pad_y, lines, size, bold=header, colour=colour)
            cell_x += width
        return y + height

    def _column_widths(self, table: Table, width: float, size: float) -> list[float]:
        """Column widths in the manner of a browser's automatic table layout, headers giving way first.

        Each column has three widths: the least it needs (its longest word), what keeps
        every body cell on one line, and what keeps its header on one line as well. The
        table spans `width`; the space is shared out tier by tier, so headers wrap
        before dates and values do. All rows count, not only those shown, so the
        columns do not move while rows are cut to fit.
        """
        pad = 2 * _CELL_PAD_X
        unit = self._column_units.get(id(table))
        if unit is None:
            unit = self._column_units[id(table)] = self._measure_columns(table)
        needs, bodies, wants = ([width * size + pad for width in tier] for tier in unit)
        # A column's longest word counts for at most `_WORD_SHARE` of the table: a longer one is
        # broken between characters rather than squeezing every other column to nothing.
        needs = [min(need, width * _WORD_SHARE) for need in needs]
        if sum(wants) <= width:
            return [want + (width - sum(wants)) * want / sum(wants) for want in wants]
        for low, high in ((bodies, wants), (needs, bodies)):
            if sum(low) <= width:
                share = (width - sum(low)) / (sum(high) - sum(low))
                return [lo + (hi - lo) * share for lo, hi in zip(low, high, strict=True)]
        return [need * width / sum(needs) for need in needs]

    def _measure_columns(self, table: Table) -> tuple[list[float], list[float], list[float]]:
        """Per column at 1 pt, unpadded: longest word, widest body cell, widest cell or header."""
        needs: list[float] = []
        bodies: list[float] = []
        wants: list[float] = []
        for column, heading in enumerate(table.columns):
            cells = {row[column] for row in table.rows}
            need = max(
                [self._longest_word(heading, 1, True)]
                + [self._longest_word(cell, 1, False) for cell in cells]
            )
            body = max([need] + [self._width(cell, 1, False) for cell in cells])
            needs.append(need)
            bodies.append(body)
            wants.append(max(body, self._width(heading, 1, True)))
        return needs, bodies, wants

    # Figure.

    def _figure(self, x: float, y: float, width: float, figure: Figure) -> float:
        pixels_w, pixels_h = _png_size(figure.png)
        height = width * pixels_h / pixels_w
        if self._drawing and self._inside(y + height):
            self.pdf.image(BytesIO(figure.png), x=x, y=y, w=width, h=height)
        y += height
        if figure.caption:
            size = self._size(_SMALL_PT)
            caption = self._wrap(figure.caption, width, size)
            y = self._lines(x, y + _CAPTION_GAP, caption, size, colour=_MUTED)
        return y

    # Primitives.

    def _size(self, points: float) -> float:
        return points * self._fit.type_scale

    @staticmethod
    def _lh(size: float) -> float:
        return size * _LEADING * _PT

    def _inside(self, bottom: float) -> bool:
        return bottom <= self._limit + 0.01

    def _lines(
        self,
        x: float,
        y: float,
        lines: Sequence[str],
        size: float,
        *,
        bold: bool = False,
        colour: _Colour = _INK,
        clip: bool = True,
    ) -> float:
        """Draw `lines` from top `y`; return the bottom of the last line."""
        line_h = self._lh(size)
        if self._drawing:
            self.pdf.set_font(_FONT, "B" if bold else "", size)
            self.pdf.set_text_color(*colour)
            for index, line in enumerate(lines):
                top = y + index * line_h
                if clip and not self._inside(top + line_h):
                    break
                self.pdf.text(x, top + line_h / 2 + size * _PT * 0.35, line)
        return y + len(lines) * line_h

    def _rule(
        self, x: float, y: float, width: float, colour: _Colour, thickness: float, *, clip: bool = True
    ) -> None:
        if self._drawing and (not clip or self._inside(y)):
            self.pdf.set_draw_color(*colour)
            self.pdf.set_line_width(thickness)
            self.pdf.line(x, y, x + width, y)

    # Text measuring and wrapping.

    def _wrap(
        self, text: str, width: float, size: float, *, bold: bool = False, clip: bool = False
    ) -> tuple[str, ...]:
        """`text` broken into lines no wider than `width` (at `size` points); "\\n" starts a new line.

        With `clip`, at most the fit's `max_lines` lines, the last ending in "…".
        """
        max_lines = self._fit.max_lines if clip else None
        width += 0.01  # a column sized to its text exactly must not wrap on a rounding error
        key = (text, bold, round(width, 3), size, max_lines)
        cached = self._wraps.get(key)
        if cached is not None:
            return cached
        lines: list[str] = []
        for paragraph in self._text(text, bold).split("\n"):
            lines += self._wrap_paragraph(paragraph, width, size, bold)
        if max_lines is not None and len(lines) > max_lines:
            lines = lines[:max_lines]
            last = lines[-1].rstrip()
            while last and self._width(last + " " + _ELLIPSIS, size, bold) > width:
                last = last[:-1].rstrip()
            lines[-1] = f"{last} {_ELLIPSIS}" if last else _ELLIPSIS
        result = tuple(lines)
        self._wraps[key] = result
        return result

    def _wrap_paragraph(self, paragraph: str, width: float, size: float, bold: bool) -> list[str]:
        words = [word for word in paragraph.split(" ") if word]  # a no-break space holds
        if not words:
            return [""]
        space = self._width(" ", size, bold)
        lines: list[str] = []
        line: list[str] = []
        line_w = 0.0
        for word in words:
            word_w = self._width(word, size, bold)
            if line and line_w + space + word_w <= width:
                line.append(word)
                line_w += space + word_w
                continue
            if line:
                lines.append(" ".join(line))
            if word_w <= width:
                line, line_w = [word], word_w
                continue
            pieces = self._break_word(word, width, size, bold)
            lines += pieces[:-1]
            line, line_w = [pieces[-1]], self._width(pieces[-1], size, bold)
        lines.append(" ".join(line))
        return lines

    def _break_word(self, word: str, width: float, size: float, bold: bool) -> list[str]:
        """A word wider than `width`, in pieces that fit (at least one character each)."""
        pieces: list[str] = []
        piece = ""
        for char in word:
            if piece and self._width(piece + char, size, bold) > width:
                pieces.append(piece)
                piece = ""
            piece += char
        pieces.append(piece)
        return pieces

    def _longest_word(self, text: str, size: float, bold: bool) -> float:
        words = self._text(text, bold).replace("\n", " ").split(" ")
        return max((self._width(word, size, bold) for word in words if word), default=0.0)

    def _width(self, text: str, size: float, bold: bool) -> float:
        """Width in mm at `size` points: the sum of the glyph advances, as fpdf2 measures unshaped text
        (read from the font directly, which is many times faster than `get_string_width`)."""
        key = (text, bold)
        unit = self._units.get(key)
        if unit is None:
            advances = self._font(bold).cw
            unit = sum(advances[ord(char)] for char in self._text(text, bold)) * 0.001 * _PT
            self._units[key] = unit
        return unit * size

    def _text(self, text: str, bold: bool) -> str:
        """`text` as it will be drawn: NFC, tabs as spaces, no control characters, U+FFFD for glyphs
        the font lacks (an emoji in someone's own words)."""
        key = (text, bold)
        cleaned = self._clean.get(key)
        if cleaned is None:
            cmap = self._cmap(bold)
            chars = []
            for char in unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\t", " ")):
                if char == "\n":
                    chars.append(char)
                elif unicodedata.category(char) in ("Cc", "Cf"):
                    continue
                elif ord(char) in cmap:
                    chars.append(char)
                else:
                    chars.append("\ufffd")
            cleaned = "".join(chars)
            self._clean[key] = cleaned
        return cleaned

    def _cmap(self, bold: bool) -> frozenset[int]:
        cmap = self._cmaps.get(bold)
        if cmap is None:
            cmap = self._cmaps[bold] = frozenset(self._font(bold).cmap)
        return cmap

    def _font(self, bold: bool) -> TTFFont:
        from fpdf.fonts import TTFFont

        font = self.pdf.fonts[_FONT + ("B" if bold else "")]
        assert isinstance(font, TTFFont)
        return font


def _clean_plain(text: str) -> str:
    """Metadata text: NFC, one line."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def _png_size(png: bytes) -> tuple[int, int]:
    """Width and height in pixels from the PNG header."""
    if len(png) < 24 or not png.startswith(b"\x89PNG\r\n\x1a\n") or png[12:16] != b"IHDR":
        raise ValueError("the figure must be a PNG image")
    width, height = struct.unpack(">II", png[16:24])
    if not width or not height:
        raise ValueError("the figure PNG has no pixels")
    return int(width), int(height)
