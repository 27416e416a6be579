"""Dates and times as the reader's language writes them ("4 Dec 2026", "4. Dez. 2026, 18:30").

The patterns come from CLDR through Babel, so no date order or month name is written in
code: `locale` is the one a language's formats come from (`Messages.locale`, which follows
`language.formats`: English is written the en_GB way). Moments are shown in the person's own
time zone; a naive datetime is taken to be UTC.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from babel import Locale
from babel.dates import format_skeleton

from bot.reports.chart import as_local


def day(moment: datetime, zone: tzinfo, locale: Locale | str, *, this_year: int | None = None) -> str:
    """The local date with a short month name: "4 Dec 2026", or "4 Dec" when it falls in
    `this_year` (the year the page is made, where the year goes without saying)."""
    local = as_local(moment, zone)
    skeleton = "MMMd" if local.year == this_year else "yMMMd"
    return format_skeleton(skeleton, local, locale=locale)


def day_and_time(moment: datetime, zone: tzinfo, locale: Locale | str) -> str:
    """The local date and the 24-hour time, joined the language's way: "4 Dec 2026, 18:30"."""
    local = as_local(moment, zone)
    parsed = locale if isinstance(locale, Locale) else Locale.parse(locale)
    pattern = parsed.datetime_formats["medium"]
    when = format_skeleton("Hm", local, locale=parsed)
    return str(pattern).format(when, format_skeleton("yMMMd", local, locale=parsed))
