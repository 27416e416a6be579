"""Dates and times as the reader's language writes them ("Dec 4, 2026", "4. Dez. 2026, 18:30").

The patterns come from CLDR through Babel, so no date order or month name is written in
code. Moments are shown in the person's own time zone; a naive datetime is taken to be UTC.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from babel import Locale
from babel.dates import format_skeleton

from bot.reports.chart import as_local


def day(moment: datetime, zone: tzinfo, language: str, *, this_year: int | None = None) -> str:
    """The local date with a short month name: "Dec 4, 2026", or "Dec 4" when it falls in
    `this_year` (the year the page is made, where the year goes without saying)."""
    local = as_local(moment, zone)
    skeleton = "MMMd" if local.year == this_year else "yMMMd"
    return format_skeleton(skeleton, local, locale=language)


def day_and_time(moment: datetime, zone: tzinfo, language: str) -> str:
    """The local date and the 24-hour time, joined the language's way: "Dec 4, 2026, 18:30"."""
    local = as_local(moment, zone)
    pattern = Locale.parse(language).datetime_formats["medium"]
    when = format_skeleton("Hm", local, locale=language)
    return str(pattern).format(when, format_skeleton("yMMMd", local, locale=language))
