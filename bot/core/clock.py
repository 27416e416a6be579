"""Wall-clock times, weekly reminders and time zones, in each person's own zone.

People think of a reminder as "07:30 on weekdays where I live", so that is what
is stored: a set of weekdays, a `LocalTime` and an IANA zone name. Every instant
handed in or out of this module is an aware UTC datetime; local time exists only
inside it. Daylight saving is the reason for this split: a 07:30 reminder must
stay at 07:30 on the clock on the wall, which means its UTC instant moves by an
hour when the clocks change.

Two kinds of day need a rule, and both are decided here once:

* A wall time that does not exist (it falls in the hour skipped when clocks go
  forward, e.g. 01:30 in Europe/London or 02:30 in America/New_York on the
  spring-forward day) fires at the first moment after the gap, which is the
  instant the clocks jump (02:00 BST / 03:00 EDT). Skipping the day would drop a
  reminder without telling anyone, and firing an hour late (what a naive
  `fold=0` conversion gives) is further from what was asked for.
* A wall time that happens twice (the hour repeated when clocks go back) fires
  once, at the first instance (`fold=0`).

Typed time zones are understood from content/timezones.yaml (abbreviations people
type in any language) and content/clock/<lang>.yaml (the words of one language:
cities and countries in that language, "noon", "am"/"pm", "to" between two times),
plus the zone database itself. No word of any language is written here. Text a
person typed is never handed to `ZoneInfo` as a key: it is only looked up in an
index built from the names the database lists.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import yaml

from bot.core import yamlfile
from bot.core.answers import WEEKDAYS

# Zone database entries that are not places anyone lives in.
_NOT_ZONES = frozenset({"Factory", "localtime", "posixrules"})
# Only these areas contribute "city" names (the last part of Area/City).
_CITY_AREAS = frozenset(
    {
        "Africa",
        "America",
        "Antarctica",
        "Arctic",
        "Asia",
        "Atlantic",
        "Australia",
        "Europe",
        "Indian",
        "Pacific",
    }
)
# Offsets that are not whole hours have no Etc/GMT zone, so each maps to a zone
# whose *standard* offset it is. Only America/St_Johns, Australia/Lord_Howe and
# Pacific/Chatham observe daylight saving; the label names the zone used.
_PARTIAL_HOUR_ZONES: dict[int, str] = {
    -(9 * 60 + 30): "Pacific/Marquesas",
    -(3 * 60 + 30): "America/St_Johns",
    3 * 60 + 30: "Asia/Tehran",
    4 * 60 + 30: "Asia/Kabul",
    5 * 60 + 30: "Asia/Kolkata",
    5 * 60 + 45: "Asia/Kathmandu",
    6 * 60 + 30: "Asia/Yangon",
    8 * 60 + 45: "Australia/Eucla",
    9 * 60 + 30: "Australia/Darwin",
    10 * 60 + 30: "Australia/Lord_Howe",
    12 * 60 + 45: "Pacific/Chatham",
}
_MIN_OFFSET_HOURS, _MAX_OFFSET_HOURS = -12, 14  # the range Etc/GMT zones cover
# Names the database has for UTC itself; all are stored and shown as plain "UTC".
_UTC_NAMES = frozenset(
    {"UTC", "UCT", "GMT", "GMT0", "GMT+0", "GMT-0", "Greenwich", "Universal", "Zulu"}
    | {
        f"Etc/{name}"
        for name in ("UTC", "UCT", "GMT", "GMT0", "GMT+0", "GMT-0", "Greenwich", "Universal", "Zulu")
    }
)

# "18:00", "18.30", "7h30", "0730", "730", "7"; a language's words add "6pm", "18 Uhr".
_TIME_DIGITS = r"(?P<hour>[0-9]{1,2})(?:[:.h]?(?P<minute>[0-9]{2}))?"
_TIME_PATTERN = re.compile(_TIME_DIGITS)
# Between the two ends of a range of hours ("22-7", "22:00 – 07:00"); words add "to", "bis".
_RANGE_SIGNS = ("-", "–")
# "UTC+2", "gmt -5", "+05:30", "utc +5:45", "+0530"; the text is normalised first.
_OFFSET_PATTERN = re.compile(
    r"(?:utc|gmt)?\s*(?P<sign>[+-])\s*(?P<hours>[0-9]{1,2})(?::?(?P<minutes>[0-9]{2}))?"
)
_ETC_PATTERN = re.compile(r"Etc/GMT(?P<sign>[+-])(?P<hours>[0-9]{1,2})")


def _alternatives(words: Iterable[str]) -> str:
    """A regular expression matching any of `words` (longest first; any run of spaces
    inside one matches any spacing)."""
    ordered = sorted(
        {" ".join(word.casefold().split()) for word in words if word.strip()}, key=len, reverse=True
    )
    return "|".join(r"\s*".join(re.escape(part) for part in word.split()) for word in ordered)


@dataclass(frozen=True)
class ClockWords:
    """The words one language uses around times and zones (content/clock/<lang>.yaml).

    All optional: a language without am/pm simply lists none.
    """

    am: tuple[str, ...] = ()
    pm: tuple[str, ...] = ()
    noon: tuple[str, ...] = ()
    midnight: tuple[str, ...] = ()
    hour: tuple[str, ...] = ()
    """Words after an hour that change nothing ("o'clock", "Uhr")."""
    range: tuple[str, ...] = ()
    """Words between the two ends of a range of hours ("to", "until", "bis")."""
    zone: tuple[str, ...] = ()
    """Words after a zone's name that change nothing ("time", "time zone", "Zeit")."""
    minutes: tuple[tuple[str, int], ...] = ()
    """Words after a bare hour that add or take away minutes ("y media": 30, "menos cuarto": -15),
    so "7 y media" is 07:30 rather than the 07:00 its digits alone would give."""
    patterns: dict[str, re.Pattern[str]] = field(default_factory=dict, compare=False, repr=False)
    named_times: dict[str, tuple[int, int]] = field(default_factory=dict, compare=False, repr=False)
    added_minutes: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        half = ""
        if self.am or self.pm:
            half = rf"(?:\s*(?:(?P<am>{_alternatives(self.am) or '(?!)'})|(?P<pm>{_alternatives(self.pm) or '(?!)'})))?"
        hour = rf"(?:\s*(?:{_alternatives(self.hour)}))?" if self.hour else ""
        words = [word for word, _ in self.minutes]
        fraction = rf"(?:\s*(?P<fraction>{_alternatives(words)}))?" if words else ""
        signs = "|".join(re.escape(sign) for sign in _RANGE_SIGNS)
        between = signs + (rf"|\b(?:{_alternatives(self.range)})\b" if self.range else "")
        self.patterns.update(
            time=re.compile(rf"{_TIME_DIGITS}{fraction}{hour}{half}{hour}"),
            range=re.compile(rf"^\s*(?P<start>.+?)\s*(?:{between})\s*(?P<end>.+?)\s*$"),
        )
        if self.zone:
            self.patterns["zone"] = re.compile(rf"\s+(?:{_alternatives(self.zone)})$")
        self.named_times.update({" ".join(word.casefold().split()): (12, 0) for word in self.noon})
        self.named_times.update({" ".join(word.casefold().split()): (0, 0) for word in self.midnight})
        self.added_minutes.update({" ".join(word.casefold().split()): added for word, added in self.minutes})


NO_WORDS = ClockWords()
"""Digits only: how stored times ("07:30") are read."""


# ---------------------------------------------------------------- wall-clock times


@dataclass(frozen=True)
class LocalTime:
    """A time on the clock on the wall, with no date and no zone: "07:30"."""

    hour: int
    minute: int

    def __post_init__(self) -> None:
        if not (0 <= self.hour <= 23 and 0 <= self.minute <= 59):
            raise ValueError(f"not a time of day: {self.hour}:{self.minute}")

    @classmethod
    def parse(cls, text: str, words: ClockWords = NO_WORDS) -> LocalTime | None:
        """Read a time as people type it; None when it is not one.

        A bare number is an hour ("7" is 07:00); three or four digits are
        hours and minutes ("0730", "730"). `words` are the person's language's
        ("noon", "6pm", "18 Uhr"); with am/pm the hour must be 1-12.
        """
        cleaned = " ".join(text.strip().casefold().split())
        named = words.named_times.get(cleaned)
        if named is not None:
            return cls(*named)
        found = words.patterns["time"].fullmatch(cleaned)
        if found is None:
            return None
        hour, minute = int(found["hour"]), int(found["minute"] or 0)
        fraction = found.groupdict().get("fraction")
        if fraction is not None and found["minute"] is not None:
            return None  # "7:15 y media" says two things
        half = "am" if found.groupdict().get("am") else "pm" if found.groupdict().get("pm") else None
        if half is not None:
            if not 1 <= hour <= 12:
                return None
            hour = hour % 12 + (12 if half == "pm" else 0)
        if hour > 23 or minute > 59:
            return None
        if fraction is not None:
            # "8 menos cuarto" is 07:45; a quarter before 0 o'clock wraps round to 23:45
            total = (hour * 60 + words.added_minutes[" ".join(fraction.split())]) % (24 * 60)
            hour, minute = divmod(total, 60)
        return cls(hour, minute)

    def __str__(self) -> str:
        return f"{self.hour:02d}:{self.minute:02d}"


def parse_time_range(text: str, words: ClockWords = NO_WORDS) -> tuple[LocalTime, LocalTime] | None:
    """ "22-7", "10pm to 8am", "23:00 - 07:30" -> (start, end); None unless both ends are
    times and differ."""
    found = words.patterns["range"].match(text)
    if found is None:
        return None
    start, end = _after_lead_in(found["start"], words), LocalTime.parse(found["end"], words)
    if start is None or end is None or start == end:
        return None
    return start, end


_LEAD_IN_WORDS = 3
"""The most words skipped before the first time of a range ("desde las" is two)."""


def _after_lead_in(text: str, words: ClockWords) -> LocalTime | None:
    """The time that ends `text`, after at most a few leading words ("from 10pm",
    "de 22", "desde las 22", "von 22"), which every language puts before a range."""
    parts = text.split()
    for start in range(min(_LEAD_IN_WORDS, len(parts) - 1) + 1):
        found = LocalTime.parse(" ".join(parts[start:]), words)
        if found is not None:
            return found
    return None


def _minutes(moment: LocalTime) -> int:
    return moment.hour * 60 + moment.minute


@dataclass(frozen=True)
class QuietHours:
    """The local hours in which nobody should be woken by a reminder.

    `end` may be earlier than `start`, meaning the quiet spans midnight. Equal
    start and end mean no quiet hours at all (not a whole silent day).
    """

    start: LocalTime = LocalTime(22, 0)
    end: LocalTime = LocalTime(7, 0)

    def contains(self, t: LocalTime) -> bool:
        """True when `t` is quiet: from `start` (inclusive) up to `end` (exclusive)."""
        start, end, now = _minutes(self.start), _minutes(self.end), _minutes(t)
        if start <= end:
            return start <= now < end
        return now >= start or now < end


# ---------------------------------------------------------------- instants


def _zone(name: str) -> ZoneInfo:
    """The zone called `name`; ValueError (not KeyError or OSError) when there is none."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"unknown time zone {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name!r}") from None


def _require_aware(moment: datetime, what: str) -> datetime:
    """`moment` in UTC; a naive datetime is refused because its zone would be a guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime, got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


def _wall(moment: datetime) -> datetime:
    """The naive local wall time of an aware datetime."""
    return moment.replace(tzinfo=None)


def _transition_after(before: datetime, after: datetime, tz: ZoneInfo) -> datetime:
    """The first UTC second at or after which `tz` no longer has the offset it had at `before`.

    `before` must be earlier than the transition and `after` at or after it. The
    zone database exposes no transition list, so this bisects; a day-long gap
    (Pacific/Apia skipped 2011-12-30) takes about 17 steps.
    """
    offset = before.astimezone(tz).utcoffset()
    low, high = before, after
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        middle = middle.replace(microsecond=0)
        if middle.astimezone(tz).utcoffset() == offset:
            low = middle
        else:
            high = middle
    return high


def _resolve(day: date, at: LocalTime, tz: ZoneInfo) -> datetime:
    """The UTC instant when the wall clock in `tz` shows `at` on `day`.

    Repeated wall times resolve to their first instance; skipped ones to the
    instant the clocks jump (see the module docstring).
    """
    wall = datetime.combine(day, time(at.hour, at.minute))
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if _wall(first.astimezone(tz)) == wall:
        return first
    # In a gap fold=0 uses the offset from before the jump (so lands after it)
    # and fold=1 the offset from after it (so lands before it).
    before_jump = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    return _transition_after(before_jump, first, tz)


def _check_days(days: Sequence[str]) -> frozenset[int]:
    if isinstance(days, str) or not days:
        raise ValueError(f"expected a non-empty list of weekdays, got {days!r}")
    unknown = [day for day in days if day not in WEEKDAYS]
    if unknown:
        raise ValueError(f"unknown weekday(s) {unknown}; expected some of {list(WEEKDAYS)}")
    return frozenset(WEEKDAYS.index(day) for day in days)


def next_occurrence(days: Sequence[str], at: LocalTime, zone: str, after: datetime) -> datetime:
    """The first moment strictly after `after` when it is `at` local time in `zone` on one of `days`.

    `after` is an aware datetime (normally UTC); the answer is an aware UTC
    datetime. The wall time is kept across daylight-saving changes, so the UTC
    time moves. On a spring-forward day a wall time inside the skipped hour fires
    at the instant the clocks jump (01:30 in Europe/London on 2026-03-29 fires at
    02:00 BST = 01:00 UTC); on a fall-back day a repeated wall time fires once,
    at its first instance. Raises ValueError for empty or unknown `days`, an
    unknown `zone` or a naive `after`.
    """
    weekdays = _check_days(days)
    tz = _zone(zone)
    after_utc = _require_aware(after, "after")
    today = after_utc.astimezone(tz).date()
    # Yesterday covers a wall time resolved forward across midnight; eight days
    # ahead always holds a chosen weekday whose instant is well after `after`.
    candidates = (
        _resolve(today + timedelta(days=offset), at, tz)
        for offset in range(-1, 9)
        if (today + timedelta(days=offset)).weekday() in weekdays
    )
    return min(moment for moment in candidates if moment > after_utc)


def shift_out_of_quiet_hours(moment: datetime, zone: str, quiet: QuietHours) -> datetime:
    """Move `moment` to the end of the quiet hours it falls in, else leave it alone.

    The end is the next local `quiet.end` after `moment`, resolved like any
    reminder (so across a clock change it is still `quiet.end` on the wall).
    Returned in UTC.
    """
    moment_utc = _require_aware(moment, "moment")
    if not quiet.contains(local_wall_time(moment_utc, zone)):
        return moment_utc
    return next_occurrence(WEEKDAYS, quiet.end, zone, moment_utc)


def local_date(moment: datetime, zone: str) -> date:
    """The date on the calendar in `zone` at `moment` (what "today" means there)."""
    return _require_aware(moment, "moment").astimezone(_zone(zone)).date()


def local_wall_time(moment: datetime, zone: str) -> LocalTime:
    """The wall-clock time in `zone` at `moment`, to the minute (seconds are dropped)."""
    local = _require_aware(moment, "moment").astimezone(_zone(zone))
    return LocalTime(local.hour, local.minute)


# ---------------------------------------------------------------- typed time zones


@dataclass(frozen=True)
class ZoneMatch:
    """A zone someone chose: the IANA name to store and the words to show them."""

    zone: str
    label: str


@dataclass(frozen=True)
class ZoneAliases:
    """Typed names and refused names, checked: content/timezones.yaml (any language) or
    content/clock/<lang>.yaml (one language, with its `words`), or the two combined.

    Keys of `aliases` and members of `ambiguous` are normalised the way typed
    text is (see `_normalise`), so "São Paulo" and "sao paulo" are one key.
    """

    aliases: Mapping[str, str]
    ambiguous: frozenset[str]
    words: ClockWords = NO_WORDS

    def combined(self, *fallbacks: ZoneAliases) -> ZoneAliases:
        """These names first, then each fallback's (another file, other languages) where
        they say nothing; a name refused anywhere is refused unless named here or earlier."""
        aliases: dict[str, str] = {}
        ambiguous: set[str] = set()
        for source in (self, *fallbacks):
            ambiguous |= {name for name in source.ambiguous if name not in aliases}
            for name, zone in source.aliases.items():
                if name not in aliases and name not in ambiguous:
                    aliases[name] = zone
        return ZoneAliases(aliases, frozenset(ambiguous), self.words)


class ZoneAliasError(ValueError):
    """timezones.yaml is invalid; the message names the file and the key of each problem."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.problems = [f"{path}: {problem}" for problem in problems]
        super().__init__("invalid time zone file:\n  " + "\n  ".join(self.problems))


def _normalise(text: str, words: ClockWords = NO_WORDS) -> str:
    """Lower case, accents and underscores gone, one space between words, and the
    language's filler after a zone's name dropped ("UK time" -> "uk").

    "São_Paulo " and "sao paulo" become the same key; "+", "-", "/" and ":"
    are kept because offsets and IANA names need them.
    """
    decomposed = unicodedata.normalize("NFKD", text.replace("\u2212", "-"))
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    cleaned = " ".join(plain.casefold().replace("_", " ").split()).strip(" .,;!?\"'")
    filler = words.patterns.get("zone")
    shortened = filler.sub("", cleaned) if filler is not None else cleaned
    return shortened or cleaned


@functools.cache
def _database_index() -> tuple[dict[str, str], dict[str, str]]:
    """Normalised full names and unique city names of every zone the database lists."""
    names = sorted(available_timezones() - _NOT_ZONES)
    full = {_normalise(name): name for name in names}
    cities: dict[str, set[str]] = {}
    for name in names:
        area, _, rest = name.partition("/")
        if area in _CITY_AREAS and rest:
            cities.setdefault(_normalise(rest.rsplit("/", 1)[-1]), set()).add(name)
    unique = {city: next(iter(zones)) for city, zones in cities.items() if len(zones) == 1}
    return full, unique


def _offset_label(total_minutes: int) -> str:
    sign = "-" if total_minutes < 0 else "+"
    hours, minutes = divmod(abs(total_minutes), 60)
    return f"UTC{sign}{hours:02d}:{minutes:02d}"


def zone_label(zone: str) -> str:
    """How to show a zone: its IANA name, or "UTC+02:00" for the sign-inverted Etc/GMT zones."""
    if zone in _UTC_NAMES:
        return "UTC"
    etc = _ETC_PATTERN.fullmatch(zone)
    if etc is None:
        return zone
    hours = int(etc["hours"])
    if hours == 0:
        return "UTC"
    # Etc/GMT-2 is two hours *ahead* of UTC: POSIX signs are inverted.
    return _offset_label(hours * 60 * (-1 if etc["sign"] == "+" else 1))


def _match_offset(sign: str, hours_text: str, minutes_text: str | None) -> ZoneMatch | None:
    hours, minutes = int(hours_text), int(minutes_text or 0)
    total = (hours * 60 + minutes) * (-1 if sign == "-" else 1)
    if minutes == 0:
        signed_hours = total // 60
        if not _MIN_OFFSET_HOURS <= signed_hours <= _MAX_OFFSET_HOURS:
            return None
        if signed_hours == 0:
            return ZoneMatch("UTC", "UTC")
        zone = f"Etc/GMT{'-' if signed_hours > 0 else '+'}{abs(signed_hours)}"
        return ZoneMatch(zone, _offset_label(total))
    if total in _PARTIAL_HOUR_ZONES:
        zone = _PARTIAL_HOUR_ZONES[total]
        return ZoneMatch(zone, f"{_offset_label(total)} ({zone})")
    return None


def parse_zone(text: str, aliases: ZoneAliases) -> ZoneMatch | None:
    """Understand a typed time zone, or None when it is not understood or is ambiguous.

    Tried in order: a UTC offset ("UTC+2", "GMT-5", "+05:30", "utc +5:45"),
    the refused list (IST, CST, BST, countries spanning several zones), the
    aliases file (cities, countries, unambiguous abbreviations), an IANA name in
    any case ("europe/berlin"), then the city part of an IANA name ("Sydney").
    Whole-hour offsets map to Etc/GMT∓N (signs inverted); half-hour and
    45-minute offsets map to a zone with that standard offset, named in the label.
    """
    key = _normalise(text, aliases.words)
    if not key:
        return None
    offset = _OFFSET_PATTERN.fullmatch(key)
    if offset is not None:
        return _match_offset(offset["sign"], offset["hours"], offset["minutes"])
    if key in aliases.ambiguous:
        return None
    full, cities = _database_index()
    zone = aliases.aliases.get(key) or full.get(key) or cities.get(key)
    if zone is None:
        return None
    if zone in _UTC_NAMES:
        return ZoneMatch("UTC", "UTC")
    return ZoneMatch(zone, zone_label(zone))


# ---------------------------------------------------------------- timezones.yaml


def _check_zone(value: object, where: str, problems: list[str]) -> str | None:
    if not isinstance(value, str):
        problems.append(f"{where}: expected an IANA zone name, got {value!r}")
        return None
    try:
        _zone(value)
    except ValueError:
        problems.append(f"{where}: unknown time zone {value!r}")
        return None
    return value


def _read_aliases(raw: object, problems: list[str], words: ClockWords) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        problems.append("aliases: expected a mapping of typed name to IANA zone")
        return {}
    aliases: dict[str, str] = {}
    seen: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            # YAML 1.1 turns keys like `no` (Norway) and `on` into booleans.
            problems.append(f"aliases.{key!r}: key is not text; quote it")
            continue
        where = f"aliases.{key}"
        normal = _normalise(key, words)
        if key != key.lower() or not normal:
            problems.append(f"{where}: keys are written in lower case")
            continue
        zone = _check_zone(value, where, problems)
        if normal in seen and zone is not None and aliases.get(normal, zone) != zone:
            problems.append(f"{where}: same name as aliases.{seen[normal]} but a different zone")
            continue
        seen.setdefault(normal, key)
        if zone is not None:
            aliases[normal] = zone
    return aliases


def _read_ambiguous(
    raw: object, aliases: Mapping[str, str], problems: list[str], words: ClockWords
) -> frozenset[str]:
    if raw is None:
        return frozenset()
    if not isinstance(raw, list):
        problems.append("ambiguous: expected a list of names to refuse")
        return frozenset()
    refused: set[str] = set()
    for index, item in enumerate(raw):
        where = f"ambiguous[{index}]"
        if not isinstance(item, str) or not _normalise(item, words):
            problems.append(f"{where}: expected text, got {item!r}")
        elif _normalise(item, words) in aliases:
            problems.append(f"{where}: {item!r} is also under aliases; keep it in one place")
        else:
            refused.add(_normalise(item, words))
    return frozenset(refused)


_WORD_LISTS = ("am", "pm", "noon", "midnight", "hour", "range", "zone")
_OPTIONAL_WORDS = ("minutes",)


def _read_words(raw: object, problems: list[str]) -> ClockWords:
    if not isinstance(raw, dict):
        problems.append(f"words: expected a mapping with the lists {list(_WORD_LISTS)}")
        return NO_WORDS
    unexpected = sorted(str(key) for key in raw if key not in (*_WORD_LISTS, *_OPTIONAL_WORDS))
    if unexpected:
        problems.append(f"words: unknown key(s) {unexpected}; use {[*_WORD_LISTS, *_OPTIONAL_WORDS]}")
    lists: dict[str, tuple[str, ...]] = {}
    for name in _WORD_LISTS:
        value = raw.get(name)
        if value is None:
            problems.append(f"words.{name}: missing (write [] when the language has none)")
        elif not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
            problems.append(f"words.{name}: expected a list of words, got {value!r}")
        else:
            lists[name] = tuple(value)
    for name in ("am", "pm", "hour"):
        for index, word in enumerate(lists.get(name, ())):
            if any(char.isdigit() for char in word):
                problems.append(f"words.{name}[{index}]: {word!r} has a digit in it")
    return ClockWords(
        minutes=_read_minutes(raw.get("minutes"), problems),
        am=lists.get("am", ()),
        pm=lists.get("pm", ()),
        noon=lists.get("noon", ()),
        midnight=lists.get("midnight", ()),
        hour=lists.get("hour", ()),
        range=lists.get("range", ()),
        zone=lists.get("zone", ()),
    )


def _read_minutes(raw: object, problems: list[str]) -> tuple[tuple[str, int], ...]:
    """words.minutes (optional): words after an hour -> minutes they add (-59 to 59)."""
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        problems.append(f"words.minutes: expected a mapping of words to minutes, got {raw!r}")
        return ()
    found: list[tuple[str, int]] = []
    for word, added in raw.items():
        if not isinstance(word, str) or not word.strip() or any(char.isdigit() for char in word):
            problems.append(f"words.minutes.{word!r}: expected words without digits")
        elif isinstance(added, bool) or not isinstance(added, int) or not -59 <= added <= 59 or added == 0:
            problems.append(f"words.minutes.{word}: expected minutes from -59 to 59 (not 0), got {added!r}")
        else:
            found.append((word, added))
    return tuple(found)


def load_zone_aliases(path: Path, *, with_words: bool = False) -> ZoneAliases:
    """Read and check content/timezones.yaml, or with `with_words` one language's
    content/clock/<lang>.yaml; ZoneAliasError (a ValueError) lists every problem."""
    try:
        data: Any = yamlfile.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ZoneAliasError(path, [f"cannot read: {error}"]) from None
    if not isinstance(data, dict):
        raise ZoneAliasError(path, ["(top level): expected a mapping"])
    problems: list[str] = []
    known = ("schema_version", "aliases", "ambiguous", *(("words",) if with_words else ()))
    unexpected = sorted(str(key) for key in data if key not in known)
    if unexpected:
        problems.append(f"(top level): unknown key(s) {unexpected}")
    if data.get("schema_version") != 1:
        problems.append(f"schema_version: expected 1, got {data.get('schema_version')!r}")
    words = _read_words(data.get("words"), problems) if with_words else NO_WORDS
    aliases = _read_aliases(data.get("aliases"), problems, words)
    ambiguous = _read_ambiguous(data.get("ambiguous"), aliases, problems, words)
    if problems:
        raise ZoneAliasError(path, problems)
    return ZoneAliases(aliases=aliases, ambiguous=ambiguous, words=words)


# ---------------------------------------------------------------- "now"


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FileClock:
    """A clock read from a file holding an ISO time: lets tests move a real bot
    process through days and daylight-saving changes without waiting. Only used
    when PSOASBOT_CLOCK_FILE is set; a missing or empty file means real time."""

    def __init__(self, path: str) -> None:
        self.path = path

    def now(self) -> datetime:
        try:
            with open(self.path, encoding="utf-8") as handle:
                text = handle.read().strip()
        except OSError:
            text = ""
        return datetime.fromisoformat(text).astimezone(UTC) if text else datetime.now(UTC)
