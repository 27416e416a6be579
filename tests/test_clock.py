"""Reminder times in people's own zones: parsing, weekly schedules, DST and quiet hours.

Every instant is written out by hand in UTC and checked against the zone
database, so a test fails if the code (or the database) moves a reminder.
Clock changes used (2026):
  Europe/London     29 Mar 01:00 UTC (GMT -> BST)   25 Oct 01:00 UTC (BST -> GMT)
  Europe/Berlin     29 Mar 01:00 UTC (CET -> CEST)
  America/New_York   8 Mar 07:00 UTC (EST -> EDT)    1 Nov 06:00 UTC (EDT -> EST)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.core.clock import (
    NO_WORDS,
    WEEKDAYS,
    ClockWords,
    LocalTime,
    QuietHours,
    ZoneAliases,
    ZoneMatch,
    load_zone_aliases,
    local_date,
    local_wall_time,
    next_occurrence,
    parse_time_range,
    parse_zone,
    shift_out_of_quiet_hours,
)

ROOT = Path(__file__).resolve().parents[1]
TIMEZONES_PATH = ROOT / "content" / "timezones.yaml"
ENGLISH_PATH = ROOT / "content" / "clock" / "en.yaml"
EVERY_DAY = WEEKDAYS
ENGLISH = load_zone_aliases(ENGLISH_PATH, with_words=True)
WORDS = ENGLISH.words


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def occurrences(days: Sequence[str], at: LocalTime, zone: str, start: datetime, count: int) -> list[datetime]:
    """The next `count` occurrences after `start`, each found from the one before."""
    found: list[datetime] = []
    moment = start
    for _ in range(count):
        moment = next_occurrence(days, at, zone, moment)
        found.append(moment)
    return found


def local(moment: datetime, zone: str) -> tuple[date, str]:
    return local_date(moment, zone), str(local_wall_time(moment, zone))


@pytest.fixture(scope="module")
def aliases() -> ZoneAliases:
    """What an English speaker's typed zone is looked up in: their words, then the
    abbreviations every language shares."""
    return ENGLISH.combined(load_zone_aliases(TIMEZONES_PATH))


# ---------------------------------------------------------------- LocalTime


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("18:00", "18:00"),
        ("6pm", "18:00"),
        ("6 PM", "18:00"),
        ("6:30 pm", "18:30"),
        ("6:30 p.m.", "18:30"),
        ("18.30", "18:30"),
        ("0730", "07:30"),
        ("730", "07:30"),
        ("1830", "18:30"),
        ("7", "07:00"),
        ("07", "07:00"),
        ("7h30", "07:30"),
        ("  9:05  ", "09:05"),
        ("0:00", "00:00"),
        ("23:59", "23:59"),
        ("12am", "00:00"),
        ("12:15 am", "00:15"),
        ("12pm", "12:00"),
        ("11:59pm", "23:59"),
        ("7am", "07:00"),
        ("noon", "12:00"),
        ("Midnight", "00:00"),
    ],
)
def test_local_time_parses_what_people_type(text: str, expected: str) -> None:
    parsed = LocalTime.parse(text, WORDS)
    assert parsed is not None
    assert str(parsed) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "24:00",
        "25",
        "7:60",
        "7:5",
        "13pm",
        "0am",
        "00pm",
        "12345",
        "-7",
        "7:30:00",
        "half seven",
        "seven",
        "7 o'clock tomorrow",
        "18:00 utc",
        "٧:٣٠",
    ],
)
def test_local_time_refuses_nonsense(text: str) -> None:
    assert LocalTime.parse(text, WORDS) is None


def test_without_a_language_only_digits_are_times() -> None:
    # Stored times are digits; "noon" and "6pm" are words of a language.
    assert str(LocalTime.parse("07:30", NO_WORDS)) == "07:30"
    assert LocalTime.parse("noon") is None
    assert LocalTime.parse("6pm") is None


def test_another_language_brings_its_own_time_words() -> None:
    german = ClockWords(noon=("mittag",), midnight=("mitternacht",), hour=("uhr",), range=("bis",))
    assert str(LocalTime.parse("18 Uhr", german)) == "18:00"
    assert str(LocalTime.parse("18.30 uhr", german)) == "18:30"
    assert str(LocalTime.parse("Mittag", german)) == "12:00"
    assert LocalTime.parse("noon", german) is None
    assert LocalTime.parse("6pm", german) is None
    assert parse_time_range("22 bis 7 Uhr", german) == (LocalTime(22, 0), LocalTime(7, 0))
    assert parse_time_range("22 to 7", german) is None


SPANISH = load_zone_aliases(ROOT / "content" / "clock" / "es.yaml", with_words=True).words
GERMAN = load_zone_aliases(ROOT / "content" / "clock" / "de.yaml", with_words=True).words


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7 y media", "07:30"),
        ("7 y media de la tarde", "19:30"),
        ("8 menos cuarto", "07:45"),
        ("8 menos cuarto de la noche", "19:45"),
        ("6 de la tarde", "18:00"),
        ("12 de la noche", "00:00"),
        ("mediodía", "12:00"),
        ("18 h", "18:00"),
    ],
)
def test_spanish_times_with_their_minutes_in_words(text: str, expected: str) -> None:
    assert str(LocalTime.parse(text, SPANISH)) == expected


def test_minutes_in_words_only_follow_a_bare_hour() -> None:
    assert LocalTime.parse("7:15 y media", SPANISH) is None
    assert LocalTime.parse("7 y media", WORDS) is None  # English has no such words


@pytest.mark.parametrize(
    ("text", "words", "start", "end"),
    [
        ("de 22 a 7", SPANISH, "22:00", "07:00"),
        ("desde las 22 hasta las 7", SPANISH, "22:00", "07:00"),
        ("de 10 de la noche a 7 de la mañana", SPANISH, "22:00", "07:00"),
        ("from 10pm to 8am", WORDS, "22:00", "08:00"),
        ("von 22 bis 7 Uhr", GERMAN, "22:00", "07:00"),
    ],
)
def test_a_range_may_start_with_the_word_for_from(text: str, words: ClockWords, start: str, end: str) -> None:
    found = parse_time_range(text, words)
    assert found is not None
    assert (str(found[0]), str(found[1])) == (start, end)


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [("22-7", "22:00", "07:00"), ("10pm to 8am", "22:00", "08:00"), ("23:00 – 07:30", "23:00", "07:30")],
)
def test_ranges_of_hours_in_english(text: str, start: str, end: str) -> None:
    found = parse_time_range(text, WORDS)
    assert found is not None
    assert (str(found[0]), str(found[1])) == (start, end)


def test_local_time_prints_two_digits_and_rejects_impossible_values() -> None:
    assert str(LocalTime(7, 5)) == "07:05"
    assert str(LocalTime(0, 0)) == "00:00"
    with pytest.raises(ValueError):
        LocalTime(24, 0)
    with pytest.raises(ValueError):
        LocalTime(7, 60)


# ---------------------------------------------------------------- QuietHours


def test_quiet_hours_default_to_ten_at_night_until_seven() -> None:
    quiet = QuietHours()
    assert (str(quiet.start), str(quiet.end)) == ("22:00", "07:00")


@pytest.mark.parametrize(
    ("time_text", "inside"),
    [
        ("21:59", False),
        ("22:00", True),  # start inclusive
        ("23:15", True),
        ("00:00", True),
        ("05:00", True),
        ("06:59", True),
        ("07:00", False),  # end exclusive
        ("12:00", False),
    ],
)
def test_default_quiet_hours_wrap_past_midnight(time_text: str, inside: bool) -> None:
    parsed = LocalTime.parse(time_text)
    assert parsed is not None
    assert QuietHours().contains(parsed) is inside


@pytest.mark.parametrize(
    ("time_text", "inside"),
    [("12:59", False), ("13:00", True), ("14:30", True), ("14:59", True), ("15:00", False), ("23:00", False)],
)
def test_quiet_hours_within_one_day(time_text: str, inside: bool) -> None:
    quiet = QuietHours(LocalTime(13, 0), LocalTime(15, 0))
    parsed = LocalTime.parse(time_text)
    assert parsed is not None
    assert quiet.contains(parsed) is inside


def test_equal_start_and_end_means_no_quiet_hours() -> None:
    quiet = QuietHours(LocalTime(8, 0), LocalTime(8, 0))
    assert not any(quiet.contains(LocalTime(hour, minute)) for hour in range(24) for minute in (0, 30))


# ---------------------------------------------------------------- next_occurrence


def test_next_occurrence_later_the_same_day() -> None:
    assert next_occurrence(EVERY_DAY, LocalTime(18, 0), "UTC", utc(2026, 6, 10, 9)) == utc(2026, 6, 10, 18)


def test_next_occurrence_next_day_when_today_has_passed() -> None:
    assert next_occurrence(EVERY_DAY, LocalTime(7, 30), "UTC", utc(2026, 6, 10, 9)) == utc(2026, 6, 11, 7, 30)


def test_next_occurrence_only_on_chosen_weekdays() -> None:
    friday_evening = utc(2026, 3, 6, 20)
    assert friday_evening.strftime("%a") == "Fri"
    found = occurrences(("mon", "wed", "fri"), LocalTime(18, 0), "UTC", friday_evening, 4)
    assert found == [utc(2026, 3, 9, 18), utc(2026, 3, 11, 18), utc(2026, 3, 13, 18), utc(2026, 3, 16, 18)]
    assert [moment.strftime("%a") for moment in found] == ["Mon", "Wed", "Fri", "Mon"]


def test_next_occurrence_a_single_weekday_a_week_ahead() -> None:
    tuesday_noon = utc(2026, 3, 10, 12)
    assert next_occurrence(("tue",), LocalTime(9, 0), "UTC", tuesday_noon) == utc(2026, 3, 17, 9)


def test_next_occurrence_is_strictly_after() -> None:
    exactly = utc(2026, 6, 10, 18)
    assert next_occurrence(EVERY_DAY, LocalTime(18, 0), "UTC", exactly) == utc(2026, 6, 11, 18)
    just_before = exactly - timedelta(microseconds=1)
    assert next_occurrence(EVERY_DAY, LocalTime(18, 0), "UTC", just_before) == exactly


def test_next_occurrence_uses_the_local_weekday_not_the_utc_one() -> None:
    # Monday 20:00 UTC is already Tuesday 07:00 in Sydney (AEDT, UTC+11).
    monday_evening_utc = utc(2026, 1, 5, 20)
    found = next_occurrence(("tue",), LocalTime(7, 30), "Australia/Sydney", monday_evening_utc)
    assert found == utc(2026, 1, 5, 20, 30)
    assert local(found, "Australia/Sydney") == (date(2026, 1, 6), "07:30")


def test_next_occurrence_returns_utc_and_accepts_other_aware_inputs() -> None:
    after = datetime(2026, 6, 10, 11, 0, tzinfo=timezone(timedelta(hours=2)))  # 09:00 UTC
    found = next_occurrence(EVERY_DAY, LocalTime(10, 0), "UTC", after)
    assert found == utc(2026, 6, 10, 10)
    assert found.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("days", "zone", "after"),
    [
        ((), "UTC", utc(2026, 1, 1)),
        (("funday",), "UTC", utc(2026, 1, 1)),
        (("Mon",), "UTC", utc(2026, 1, 1)),
        ("mon", "UTC", utc(2026, 1, 1)),
        (("mon",), "Mars/Olympus_Mons", utc(2026, 1, 1)),
        (("mon",), "", utc(2026, 1, 1)),
        (("mon",), "Europe", utc(2026, 1, 1)),
        (("mon",), "../../etc/passwd", utc(2026, 1, 1)),
        (("mon",), "UTC", datetime(2026, 1, 1)),
    ],
)
def test_next_occurrence_refuses_bad_input(days: Sequence[str], zone: str, after: datetime) -> None:
    with pytest.raises(ValueError):
        next_occurrence(days, LocalTime(7, 0), zone, after)


# ---------------------------------------------------------------- daylight saving


@pytest.mark.parametrize(
    ("zone", "change_day", "expected_utc"),
    [
        # spring forward: the day before still on winter time, then one hour earlier in UTC
        (
            "Europe/London",
            date(2026, 3, 29),
            [utc(2026, 3, 28, 7, 30), utc(2026, 3, 29, 6, 30), utc(2026, 3, 30, 6, 30)],
        ),
        # fall back: one hour later in UTC from the day of the change
        (
            "Europe/London",
            date(2026, 10, 25),
            [utc(2026, 10, 24, 6, 30), utc(2026, 10, 25, 7, 30), utc(2026, 10, 26, 7, 30)],
        ),
        (
            "America/New_York",
            date(2026, 3, 8),
            [utc(2026, 3, 7, 12, 30), utc(2026, 3, 8, 11, 30), utc(2026, 3, 9, 11, 30)],
        ),
        (
            "America/New_York",
            date(2026, 11, 1),
            [utc(2026, 10, 31, 11, 30), utc(2026, 11, 1, 12, 30), utc(2026, 11, 2, 12, 30)],
        ),
    ],
)
def test_daily_reminder_keeps_its_wall_time_across_a_clock_change(
    zone: str, change_day: date, expected_utc: list[datetime]
) -> None:
    day_before = change_day - timedelta(days=1)
    start = datetime.combine(day_before, datetime.min.time(), tzinfo=ZoneInfo(zone)).astimezone(UTC)
    found = occurrences(EVERY_DAY, LocalTime(7, 30), zone, start, 3)
    assert found == expected_utc
    assert [local(moment, zone) for moment in found] == [
        (day_before, "07:30"),
        (change_day, "07:30"),
        (change_day + timedelta(days=1), "07:30"),
    ]
    assert abs(found[2] - found[1]) == timedelta(days=1)
    assert abs(found[1] - found[0]) != timedelta(days=1)  # the UTC time moved by an hour


def test_repeated_hour_on_new_york_fall_back_fires_once_at_the_first_instance() -> None:
    zone = "America/New_York"
    # 01:30 happens twice on 1 Nov 2026: 05:30 UTC (EDT) and 06:30 UTC (EST).
    found = occurrences(EVERY_DAY, LocalTime(1, 30), zone, utc(2026, 10, 31, 12), 2)
    assert found == [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]
    on_the_day = [moment for moment in found if local_date(moment, zone) == date(2026, 11, 1)]
    assert len(on_the_day) == 1
    # Asked between the two instances, it does not fire at the second one.
    assert next_occurrence(EVERY_DAY, LocalTime(1, 30), zone, utc(2026, 11, 1, 5, 45)) == utc(
        2026, 11, 2, 6, 30
    )


def test_repeated_hour_in_london_fires_at_bst_not_gmt() -> None:
    # 01:30 on 25 Oct 2026 is 00:30 UTC (BST) and again 01:30 UTC (GMT).
    found = next_occurrence(EVERY_DAY, LocalTime(1, 30), "Europe/London", utc(2026, 10, 24, 12))
    assert found == utc(2026, 10, 25, 0, 30)


@pytest.mark.parametrize(
    ("zone", "at", "before_day", "skipped_day_fires", "after_day"),
    [
        # London skips 01:00-02:00 local: 01:30 fires when the clocks jump, 02:00 BST.
        (
            "Europe/London",
            LocalTime(1, 30),
            utc(2026, 3, 28, 1, 30),
            utc(2026, 3, 29, 1, 0),
            utc(2026, 3, 30, 0, 30),
        ),
        # Berlin skips 02:00-03:00 local: 02:30 fires at 03:00 CEST.
        (
            "Europe/Berlin",
            LocalTime(2, 30),
            utc(2026, 3, 28, 1, 30),
            utc(2026, 3, 29, 1, 0),
            utc(2026, 3, 30, 0, 30),
        ),
        # New York skips 02:00-03:00 local: 02:30 fires at 03:00 EDT.
        (
            "America/New_York",
            LocalTime(2, 30),
            utc(2026, 3, 7, 7, 30),
            utc(2026, 3, 8, 7, 0),
            utc(2026, 3, 9, 6, 30),
        ),
    ],
)
def test_skipped_wall_time_fires_once_when_the_clocks_jump(
    zone: str, at: LocalTime, before_day: datetime, skipped_day_fires: datetime, after_day: datetime
) -> None:
    found = occurrences(EVERY_DAY, at, zone, before_day - timedelta(hours=1), 3)
    assert found == [before_day, skipped_day_fires, after_day]
    jump = local_wall_time(skipped_day_fires, zone)
    assert (jump.hour, jump.minute) == (at.hour + 1, 0)  # the first valid local minute after the gap
    # The instant is the jump itself: a second earlier the zone still had its winter offset.
    tz = ZoneInfo(zone)
    assert (skipped_day_fires - timedelta(seconds=1)).astimezone(
        tz
    ).utcoffset() != skipped_day_fires.astimezone(tz).utcoffset()


def test_london_0230_on_spring_forward_day_is_a_real_time_and_fires_once() -> None:
    # London jumps from 01:00 to 02:00, so 02:30 BST exists (01:30 UTC); it is not moved.
    found = occurrences(EVERY_DAY, LocalTime(2, 30), "Europe/London", utc(2026, 3, 28, 12), 2)
    assert found == [utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 1, 30)]
    assert local(found[0], "Europe/London") == (date(2026, 3, 29), "02:30")


def test_a_skipped_whole_day_still_finds_a_reminder() -> None:
    # Samoa skipped Friday 30 Dec 2011 entirely (UTC-10 to UTC+14).
    found = occurrences(("fri", "sat"), LocalTime(7, 30), "Pacific/Apia", utc(2011, 12, 28), 3)
    assert found == sorted(found)
    assert len(set(found)) == 3
    # Friday's 07:30 never happened; it fires when Saturday began, then Saturday's as usual.
    assert local(found[0], "Pacific/Apia") == (date(2011, 12, 31), "00:00")
    assert local(found[1], "Pacific/Apia") == (date(2011, 12, 31), "07:30")


# ---------------------------------------------------------------- quiet hours shifting


def test_shift_late_evening_to_next_morning() -> None:
    moved = shift_out_of_quiet_hours(utc(2026, 6, 10, 23, 15), "UTC", QuietHours())
    assert moved == utc(2026, 6, 11, 7)


def test_shift_after_midnight_to_the_same_morning() -> None:
    moved = shift_out_of_quiet_hours(utc(2026, 6, 11, 5), "UTC", QuietHours())
    assert moved == utc(2026, 6, 11, 7)


@pytest.mark.parametrize("moment", [utc(2026, 6, 10, 12), utc(2026, 6, 10, 7), utc(2026, 6, 10, 21, 59)])
def test_shift_leaves_moments_outside_quiet_hours_alone(moment: datetime) -> None:
    assert shift_out_of_quiet_hours(moment, "UTC", QuietHours()) == moment


def test_shift_with_non_default_quiet_hours() -> None:
    siesta = QuietHours(LocalTime(13, 0), LocalTime(15, 30))
    assert shift_out_of_quiet_hours(utc(2026, 6, 10, 14), "UTC", siesta) == utc(2026, 6, 10, 15, 30)
    assert shift_out_of_quiet_hours(utc(2026, 6, 10, 22), "UTC", siesta) == utc(2026, 6, 10, 22)
    night = QuietHours(LocalTime(20, 0), LocalTime(6, 30))
    assert shift_out_of_quiet_hours(utc(2026, 6, 10, 21), "UTC", night) == utc(2026, 6, 11, 6, 30)


def test_shift_uses_the_local_clock_of_the_zone() -> None:
    # 03:15 UTC on 15 Jan is 22:15 EST the evening before: quiet in New York.
    moved = shift_out_of_quiet_hours(utc(2026, 1, 15, 3, 15), "America/New_York", QuietHours())
    assert moved == utc(2026, 1, 15, 12)  # 07:00 EST
    # 03:15 UTC is 08:45 in India: not quiet there.
    assert shift_out_of_quiet_hours(utc(2026, 1, 15, 3, 15), "Asia/Kolkata", QuietHours()) == utc(
        2026, 1, 15, 3, 15
    )
    # 20:00 UTC is 01:30 in India: moved to 07:00 IST, 01:30 UTC.
    assert shift_out_of_quiet_hours(utc(2026, 1, 15, 20), "Asia/Kolkata", QuietHours()) == utc(
        2026, 1, 16, 1, 30
    )


def test_shift_across_a_clock_change_ends_at_seven_on_the_wall() -> None:
    # 23:30 GMT on 28 Mar; the night loses an hour, so 07:00 BST is 06:00 UTC.
    moved = shift_out_of_quiet_hours(utc(2026, 3, 28, 23, 30), "Europe/London", QuietHours())
    assert moved == utc(2026, 3, 29, 6)
    assert local(moved, "Europe/London") == (date(2026, 3, 29), "07:00")


def test_local_helpers_refuse_naive_datetimes() -> None:
    with pytest.raises(ValueError):
        local_date(datetime(2026, 1, 1), "UTC")
    with pytest.raises(ValueError):
        shift_out_of_quiet_hours(datetime(2026, 1, 1, 23), "UTC", QuietHours())
    with pytest.raises(ValueError):
        local_wall_time(utc(2026, 1, 1), "Nowhere/Special")


# ---------------------------------------------------------------- parse_zone


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("europe/berlin", "Europe/Berlin"),
        ("America/New_York", "America/New_York"),
        ("AMERICA/NEW_YORK", "America/New_York"),
        ("america/new york", "America/New_York"),
        ("America/Argentina/Buenos_Aires", "America/Argentina/Buenos_Aires"),
        ("Berlin", "Europe/Berlin"),
        ("munich", "Europe/Berlin"),
        ("new york", "America/New_York"),
        ("New  York ", "America/New_York"),
        ("NYC", "America/New_York"),
        ("London", "Europe/London"),
        ("UK", "Europe/London"),
        ("uk time", "Europe/London"),
        ("Sydney", "Australia/Sydney"),
        ("Mumbai", "Asia/Kolkata"),
        ("India", "Asia/Kolkata"),
        ("São Paulo", "America/Sao_Paulo"),
        ("Sao Paulo", "America/Sao_Paulo"),
        ("sao_paulo", "America/Sao_Paulo"),
        ("Tokyo", "Asia/Tokyo"),
        ("Nairobi", "Africa/Nairobi"),
        ("lagos", "Africa/Lagos"),
        ("Auckland", "Pacific/Auckland"),
        ("Reykjavik", "Atlantic/Reykjavik"),
        ("Kiev", "Europe/Kyiv"),
        ("Pacific Time", "America/Los_Angeles"),
        ("EST", "America/New_York"),
        ("CET", "CET"),
        ("GMT", "UTC"),
        ("UTC", "UTC"),
        ("utc", "UTC"),
        ("Etc/UTC", "UTC"),
        ("UTC+0", "UTC"),
        ("UTC+2", "Etc/GMT-2"),
        ("utc+02:00", "Etc/GMT-2"),
        ("GMT-5", "Etc/GMT+5"),
        ("UTC−3", "Etc/GMT+3"),
        ("+14", "Etc/GMT-14"),
        ("-12:00", "Etc/GMT+12"),
        ("+05:30", "Asia/Kolkata"),
        ("+0530", "Asia/Kolkata"),
        ("utc +5:45", "Asia/Kathmandu"),
        ("-03:30", "America/St_Johns"),
        ("+09:30", "Australia/Darwin"),
    ],
)
def test_parse_zone_understands(text: str, zone: str, aliases: ZoneAliases) -> None:
    match = parse_zone(text, aliases)
    assert match is not None
    assert match.zone == zone
    ZoneInfo(match.zone)  # a zone the database really has


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("berlin", "Europe/Berlin"),
        ("UTC+2", "UTC+02:00"),
        ("GMT-5", "UTC-05:00"),
        ("etc/gmt+5", "UTC-05:00"),
        ("+05:30", "UTC+05:30 (Asia/Kolkata)"),
        ("-03:30", "UTC-03:30 (America/St_Johns)"),
        ("gmt", "UTC"),
    ],
)
def test_parse_zone_labels(text: str, label: str, aliases: ZoneAliases) -> None:
    match = parse_zone(text, aliases)
    assert match is not None
    assert match.label == label


@pytest.mark.parametrize(
    ("text", "local_hour"),
    [("UTC+2", 14), ("GMT-5", 7), ("utc+14", 2), ("UTC-12", 0), ("UTC+0", 12)],
)
def test_whole_hour_offsets_really_have_that_offset(text: str, local_hour: int, aliases: ZoneAliases) -> None:
    # Etc/GMT-2 is UTC+2: converting a known instant proves the sign was inverted.
    match = parse_zone(text, aliases)
    assert match is not None
    assert utc(2026, 1, 1, 12).astimezone(ZoneInfo(match.zone)).hour == local_hour


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("+03:30", 210),
        ("+04:30", 270),
        ("+05:30", 330),
        ("+05:45", 345),
        ("+06:30", 390),
        ("+08:45", 525),
        ("+09:30", 570),
        ("+10:30", 630),
        ("+12:45", 765),
        ("-03:30", -210),
        ("-09:30", -570),
    ],
)
def test_partial_hour_offsets_map_to_a_zone_with_that_standard_offset(
    text: str, minutes: int, aliases: ZoneAliases
) -> None:
    match = parse_zone(text, aliases)
    assert match is not None
    tz = ZoneInfo(match.zone)
    winter, summer = (utc(2026, month, 15).astimezone(tz).utcoffset() for month in (1, 7))
    assert winter is not None and summer is not None
    assert min(winter, summer) == timedelta(minutes=minutes)  # standard time is the smaller offset
    assert match.zone in match.label


@pytest.mark.parametrize(
    "text",
    [
        "IST",
        "CST",
        "BST",
        "bst time",
        "MST",
        "USA",
        "Australia",
        "Portland",
        "",
        "   ",
        "Narnia",
        "Europe",
        "europe/",
        "Mars/Olympus_Mons",
        "../../etc/passwd",
        "/etc/passwd",
        "factory",
        "localtime",
        "posixrules",
        "UTC+15",
        "UTC-13",
        "+05:17",
        "-02:30",
        "+5:3",
        "UTC 5",
        "7pm",
    ],
)
def test_parse_zone_refuses_ambiguous_and_unknown(text: str, aliases: ZoneAliases) -> None:
    assert parse_zone(text, aliases) is None


def test_refused_names_beat_the_zone_database(tmp_path: Path) -> None:
    # "MST" and "Paris" both exist in the zone database; listing them refuses them.
    path = tmp_path / "timezones.yaml"
    path.write_text(VALID_FILE.replace("ambiguous: [ist]", "ambiguous: [mst, Paris]"), encoding="utf-8")
    loaded = load_zone_aliases(path)
    assert parse_zone("MST", loaded) is None
    assert parse_zone("paris", loaded) is None
    assert parse_zone("Rome", loaded) == ZoneMatch("Europe/Rome", "Europe/Rome")


def test_content_file_refuses_the_ambiguous_abbreviations(aliases: ZoneAliases) -> None:
    assert {"ist", "cst", "bst", "mst"} <= aliases.ambiguous


# ---------------------------------------------------------------- timezones.yaml


def test_content_file_has_enough_aliases_across_continents(aliases: ZoneAliases) -> None:
    assert len(aliases.aliases) >= 60
    areas = {zone.split("/")[0] for zone in aliases.aliases.values()}
    assert {"Europe", "America", "Africa", "Asia", "Australia", "Pacific"} <= areas


def test_every_alias_is_understood_as_typed(aliases: ZoneAliases) -> None:
    for key, zone in aliases.aliases.items():
        match = parse_zone(key.title(), aliases)
        assert match is not None, key
        assert match.zone == zone, key


def test_a_language_falls_back_on_names_other_languages_list(aliases: ZoneAliases) -> None:
    german = ZoneAliases({"munchen": "Europe/Berlin"}, frozenset({"amerika"}), ClockWords(zone=("zeit",)))
    combined = german.combined(load_zone_aliases(TIMEZONES_PATH), ENGLISH)
    assert parse_zone("München Zeit", combined) == ZoneMatch("Europe/Berlin", "Europe/Berlin")
    assert parse_zone("munich", combined) == ZoneMatch("Europe/Berlin", "Europe/Berlin")  # English
    assert parse_zone("CET", combined) == ZoneMatch("CET", "CET")  # any language
    assert parse_zone("Amerika", combined) is None
    assert parse_zone("USA", combined) is None  # refused in English, so refused here too


VALID_FILE = """\
schema_version: 1
aliases:
  berlin: Europe/Berlin
ambiguous: [ist]
"""
WORDS_FILE = """\
schema_version: 1
words: {am: [am], pm: [pm], noon: [noon], midnight: [], hour: [], range: [to], zone: [time]}
aliases:
  berlin: Europe/Berlin
ambiguous: [ist]
"""


def test_a_small_valid_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "timezones.yaml"
    path.write_text(VALID_FILE, encoding="utf-8")
    loaded = load_zone_aliases(path)
    assert loaded.aliases == {"berlin": "Europe/Berlin"}
    assert loaded.ambiguous == frozenset({"ist"})
    assert loaded.words == NO_WORDS


def test_a_language_file_loads_its_words(tmp_path: Path) -> None:
    path = tmp_path / "en.yaml"
    path.write_text(WORDS_FILE, encoding="utf-8")
    loaded = load_zone_aliases(path, with_words=True)
    assert loaded.words.noon == ("noon",)
    assert parse_zone("berlin time", loaded) == ZoneMatch("Europe/Berlin", "Europe/Berlin")


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (WORDS_FILE.replace("noon: [noon], ", ""), "words.noon"),
        (WORDS_FILE.replace("pm: [pm]", "pm: pm"), "words.pm"),
        (WORDS_FILE.replace("am: [am]", "am: [am, '7']"), "words.am[1]"),
        (WORDS_FILE.replace("zone: [time]", "zone: [time], tomorrow: []"), "words: unknown key"),
        (WORDS_FILE.replace("words: ", "wrds: "), "words:"),
        (WORDS_FILE.replace("zone: [time]", "zone: [time], minutes: {and a half: 90}"), "words.minutes"),
        (WORDS_FILE.replace("zone: [time]", "zone: [time], minutes: [half]"), "words.minutes"),
    ],
)
def test_broken_words_name_the_file_and_key(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "en.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError) as raised:
        load_zone_aliases(path, with_words=True)
    assert str(path) in str(raised.value)
    assert where in str(raised.value)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (VALID_FILE.replace("berlin: Europe/Berlin", "berlin: Europe/Berlni"), "aliases.berlin"),
        (VALID_FILE.replace("berlin: Europe/Berlin", "berlin: [Europe/Berlin]"), "aliases.berlin"),
        (VALID_FILE.replace("berlin: Europe/Berlin", "Berlin: Europe/Berlin"), "aliases.Berlin"),
        (VALID_FILE.replace("berlin: Europe/Berlin", "no: Europe/Oslo"), "aliases.False"),
        (
            VALID_FILE.replace("berlin: Europe/Berlin", "berlin: Europe/Berlin\n  ist: Asia/Kolkata"),
            "ambiguous[0]",
        ),
        (VALID_FILE.replace("schema_version: 1", "schema_version: 2"), "schema_version"),
        (VALID_FILE + "extra: true\n", "extra"),
        (VALID_FILE + "words: {}\n", "words"),
        ("schema_version: 1\naliases: [berlin]\n", "aliases"),
        ("- just\n- a list\n", "top level"),
        ("aliases: {berlin: [\n", "cannot read"),
    ],
)
def test_broken_file_names_the_file_and_key(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "timezones.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError) as raised:
        load_zone_aliases(path)
    assert str(path) in str(raised.value)
    assert where in str(raised.value)


def test_missing_file_is_a_value_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(ValueError, match=r"nowhere\.yaml"):
        load_zone_aliases(path)
