"""User-facing sentences, looked up by key from content/messages/<language>.yaml.

Code and content refer to sentences only by key, so a translation is one more
file with the same keys. Nested YAML maps flatten to dotted keys
(`question.consent.text`); a value is a sentence or a list of sentences.
Placeholders use `{name}` and are filled by `text(key, name=...)`.

Sentences that depend on a number are written once per CLDR plural category of
the language (`{one: "once", other: "{count} times"}`); `plural(key, count)`
picks the right one with Babel's plural rules, so "once", "3 times", "einmal" and
"3 veces" all come out right without a rule in code. Dates, times, numbers, lists
and weekday names come from the same CLDR data (`date`, `time`, `join`, ...), in the
locale the file names under `language.formats` (English uses en_GB: "07:30",
"7 Dec 2026"), so no format is written by hand in code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from string import Formatter
from typing import Any, Final, Protocol

from babel import Locale
from babel.dates import (
    format_date,
    format_datetime,
    format_skeleton,
    format_time,
    get_day_names,
    get_timezone,
    get_timezone_location,
)
from babel.lists import format_list
from babel.numbers import format_decimal

from bot.core.clock import zone_label

# Keys the code itself needs, beyond those implied by content (questions, rules, exercises).
CODE_MESSAGE_KEYS: Final[tuple[str, ...]] = (
    "bot.cancelled",
    "bot.cannot_go_back",
    "bot.choose_at_least_one",
    "bot.declined",
    "bot.edited_message",
    "bot.flag_noted",
    "bot.forget_confirm",
    "bot.forget_expired",
    "bot.forget_kept",
    "bot.forget_no",
    "bot.forget_yes",
    "bot.forgotten",
    "bot.greeting",
    "bot.help",
    "bot.mydata_caption",
    "bot.mydata_empty",
    "bot.noted",
    "bot.noted_back",
    "bot.nothing_to_cancel",
    "bot.private_only",
    "bot.stale_button",
    "bot.storage_error",
    "bot.thanks_words",
    "bot.too_long",
    "bot.unknown_command",
    "bot.unsupported_input",
    "bot.unsure.as_no",
    "bot.unsure.as_yes",
    "bot.unsure.confirm",
    "bot.unsure.hint",
    "bot.welcome_back",
    "bot.you_are_welcome",
    "common.back",
    "common.back_words",
    "common.done",
    "common.list_and",
    "common.no",
    "common.none_of_these",
    "common.not_sure",
    "common.selected_mark",
    "common.skip",
    "common.yes",
    "confirm.hint",
    "confirm.question",
    "dose.each_side",
    "dose.hold_seconds.other",
    "dose.minutes.other",
    "dose.repetitions.other",
    "dose.sets.other",
    "guide.button.carry_on",
    "guide.button.hurts",
    "guide.button.skip",
    "guide.button.stop",
    "guide.button.time.other",
    "guide.expired",
    "guide.finished",
    "guide.step_heading",
    "guide.stopped",
    "guide.timer.start.other",
    "noted.age",
    "noted.days.other",
    "noted.months.other",
    "noted.pain",
    "noted.weeks.other",
    "noted.years.other",
    "language.changed",
    "language.choose",
    "language.name",
    "plan.already_noted",
    "plan.button.change_days",
    "plan.button.change_time",
    "plan.button.checked",
    "plan.button.delete",
    "plan.button.done",
    "plan.button.end_plan",
    "plan.button.hurt",
    "plan.button.next_step",
    "plan.button.quiet_hours",
    "plan.button.skip",
    "plan.button.snooze",
    "plan.button.start",
    "plan.button.stay",
    "plan.button.steps",
    "plan.cannot_end_now",
    "plan.checkin_flags.emergency_signs",
    "plan.checkin_flags.serious_signs",
    "plan.checkin_opening.day_after",
    "plan.checkin_opening.weekly",
    "plan.checkin_pain_worst",
    "plan.checkin_settled",
    "plan.checkin_thanks",
    "plan.checkin_which_flags",
    "plan.decision.better_keep_going",
    "plan.decision.continue.change.better",
    "plan.decision.continue.change.same",
    "plan.decision.continue.change.worse",
    "plan.decision.continue.start.better",
    "plan.decision.continue.start.same",
    "plan.decision.continue.start.worse",
    "plan.decision.ease",
    "plan.decision.ease_title",
    "plan.decision.no_improvement",
    "plan.decision.no_improvement_title",
    "plan.decision.progress",
    "plan.decision.refer",
    "plan.decision.refer_title",
    "plan.deleted",
    "plan.ended",
    "plan.hurt_how_much",
    "plan.hurt_not_sure_which",
    "plan.hurt_noted",
    "plan.hurt_settled",
    "plan.hurt_where",
    "plan.hurt_which",
    "plan.next_step_declined",
    "plan.next_step_taken",
    "plan.no_exercises_now",
    "plan.no_reminders",
    "plan.on_hold",
    "plan.paused",
    "plan.paused_referral",
    "plan.paused_result",
    "plan.paused_title",
    "plan.reminder_gone",
    "plan.reminder_intro",
    "plan.reminder_line.session",
    "plan.reminder_line.weekly_checkin",
    "plan.reminders_footer",
    "plan.reminders_on_hold",
    "plan.resumed",
    "plan.review_not_yet",
    "plan.review_resumed",
    "plan.session_done",
    "plan.session_skipped",
    "plan.session_snoozed.other",
    "plan.status.active",
    "plan.status.finished",
    "plan.status.paused",
    "plan.steps_unavailable",
    "plan.still_paused",
    "question.sex.option.female",
    "question.sex.option.male",
    "question.sex.option.other",
    "reminders.days_changed",
    "reminders.quiet_saved",
    "reminders.setup_cancelled",
    "reminders.time_changed",
    "reminders.timezone_saved",
    "reminders.unavailable",
    "result.intro.EMERGENCY",
    "result.intro.ROUTINE",
    "result.intro.SELF_CARE",
    "result.intro.URGENT",
    "result.next_steps",
    "result.no_exercises",
    "result.not_a_diagnosis",
    "result.pattern.areas",
    "result.pattern.no_warning_signs",
    "result.pattern.sitting",
    "result.routine_offer_eased",
    "result.safety_net",
    "result.set_reminders",
    "result.title.EMERGENCY",
    "result.title.ROUTINE",
    "result.title.SELF_CARE",
    "result.title.URGENT",
    "routine_view.button.easier",
    "routine_view.button.next_step",
    "routine_view.button.start",
    "routine_view.button.steps",
    "routine_view.eased_note",
    "routine_view.heading",
    "routine_view.left_out",
    "routine_view.minutes_and_cadence",
    "routine_view.none_yet",
    "routine_view.safety_heading_for",
    "routine_view.sessions_per_week.other",
    "routine_view.top_level",
    "telegram.command.cancel",
    "telegram.command.check",
    "telegram.command.forget",
    "telegram.command.help",
    "telegram.command.language",
    "telegram.command.mydata",
    "telegram.command.progress",
    "telegram.command.reminders",
    "telegram.command.routine",
    "telegram.command.start",
    "telegram.command.summary",
    "telegram.command.timezone",
)

# The terminal's own sentences, only in content/messages/<lang>.terminal.yaml.
TERMINAL_MESSAGE_KEYS: Final[tuple[str, ...]] = (
    "terminal.bye",
    "terminal.choose_several",
    "terminal.picture",
    "terminal.summary_failed",
    "terminal.summary_saved",
)
FORMATS_KEY: Final = "language.formats"
"""Not a sentence: the CLDR locale whose formats a language uses (optional; default the file's name)."""
WEEKDAY_IDS: Final[tuple[str, ...]] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Clock(Protocol):
    """A time of day on the wall (bot.core.clock.LocalTime, or datetime.time)."""

    @property
    def hour(self) -> int: ...
    @property
    def minute(self) -> int: ...


class MissingMessage(KeyError):
    """A sentence key has no text; content validation should have caught it."""


@dataclass(frozen=True)
class Messages:
    """The sentences of one language."""

    language: str
    entries: Mapping[str, str | tuple[str, ...]]
    overlay: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)
    """Sentences one front says differently (content/messages/<lang>.<front>.yaml)."""

    def __post_init__(self) -> None:
        # Weekday names are CLDR's ("Mon", "Mo", "lun"), not written in any file.
        names = get_day_names("abbreviated", context="stand-alone", locale=self.locale)
        days = {f"day.{day}": names[index] for index, day in enumerate(WEEKDAY_IDS)}
        object.__setattr__(self, "entries", {**days, **self.entries, **self.overlay})

    @property
    def locale(self) -> Locale:
        """The CLDR locale of this language's formats and plural rules."""
        formats = self.entries.get(FORMATS_KEY)
        return _locale(formats if isinstance(formats, str) else self.language)

    def has(self, key: str) -> bool:
        return key in self.entries

    def plural(self, key: str, count: int | float, **params: Any) -> str:
        """The sentence for `count` in this language's plural category (`{count}` is filled in)."""
        category = str(self.locale.plural_form(count))
        chosen = f"{key}.{category}" if f"{key}.{category}" in self.entries else f"{key}.other"
        return self.text(chosen, count=count, **params)

    def text(self, key: str, **params: Any) -> str:
        """Return the sentence for `key` with `{placeholders}` filled in (numbers in this
        language's digits and separators)."""
        value = self.entries.get(key)
        if value is None:
            raise MissingMessage(key)
        if isinstance(value, tuple):
            value = "\n".join(value)
        if not params:
            return value
        return value.format_map({name: self._value(item) for name, item in params.items()})

    def _value(self, item: Any) -> Any:
        if isinstance(item, bool) or not isinstance(item, int | float):
            return item
        if isinstance(item, int) and 0 <= item < 1000:
            return str(item)  # the same in every locale's Latin digits, and 20 times faster
        return format_decimal(item, locale=self.locale)

    # ------------------------------------------------------------ CLDR formats

    def number(self, value: float) -> str:
        return str(format_decimal(value, locale=self.locale))

    def time(self, moment: _Clock) -> str:
        """A time of day as this language writes it ("07:30", "7:30 a. m.")."""
        return str(format_time(dt.time(moment.hour, moment.minute), "short", locale=self.locale))

    def date(self, day: dt.date) -> str:
        """A date as this language writes it ("7 Dec 2026", "07.12.2026")."""
        return str(format_date(day, "medium", locale=self.locale))

    def date_time(self, moment: dt.datetime, zone: dt.tzinfo) -> str:
        """A date and time in `zone`, short ("07/12/2026, 09:00")."""
        return str(format_datetime(moment, "short", tzinfo=zone, locale=self.locale))

    def day_month(self, day: dt.date, *, with_year: bool = False) -> str:
        """A short date for a chart's axis ("7 Dec", "7. Dez."; "Dec 2026" with the year)."""
        return str(format_skeleton("yMMM" if with_year else "MMMd", day, locale=self.locale))

    def zone(self, name: str) -> str:
        """A time zone by its city as this language writes it ("Berlin", "Nueva York",
        "Kalkutta"); UTC and fixed offsets as "UTC" and "UTC+02:00"."""
        label = zone_label(name)
        if label != name or "/" not in name:
            return label
        try:
            return str(get_timezone_location(get_timezone(name), locale=self.locale, return_city=True))
        except (LookupError, ValueError):
            return name

    def join(self, items: Iterable[str]) -> str:
        """Several items in one sentence ("Mon, Wed and Fri", "Mo, Mi und Fr")."""
        listed = list(items)
        return str(format_list(listed, locale=self.locale)) if listed else ""

    def in_a_list(self, labels: Iterable[str]) -> list[str]:
        """Button labels as one sentence lists them: "Lower back and groin" where the language
        writes such words small (`language.labels_in_lists: lower`), "Unterer Rücken und
        Leiste" where it keeps them; an abbreviation ("IBD") stays as it is."""
        listed = list(labels)
        if self.entries.get("language.labels_in_lists") != "lower":
            return listed
        return listed[:1] + [
            label if label[1:2].isupper() else label[:1].lower() + label[1:] for label in listed[1:]
        ]

    def lines(self, key: str) -> tuple[str, ...]:
        """Return a list-valued entry (e.g. exercise steps); a single sentence becomes one line."""
        value = self.entries.get(key)
        if value is None:
            raise MissingMessage(key)
        return value if isinstance(value, tuple) else (value,)

    def placeholders(self, key: str) -> set[str]:
        value = self.entries.get(key, "")
        texts = value if isinstance(value, tuple) else (value,)
        return {field for text in texts for _, field, _, _ in Formatter().parse(text) if field}


def flatten(tree: Mapping[str, Any], where: str, prefix: str = "") -> dict[str, str | tuple[str, ...]]:
    """Flatten nested maps into dotted keys; raise ValueError naming the bad key."""
    flat: dict[str, str | tuple[str, ...]] = {}
    for raw_key, value in tree.items():
        key = f"{prefix}{raw_key}"
        if not isinstance(raw_key, str):
            raise ValueError(
                f"{where}: {key}: keys must be text; quote it (YAML reads yes/no/on/off as true/false)"
            )
        if isinstance(value, Mapping):
            flat.update(flatten(value, where, f"{key}."))
        elif isinstance(value, str):
            flat[key] = value
        elif isinstance(value, list) and value and all(isinstance(item, str) for item in value):
            flat[key] = tuple(value)
        else:
            raise ValueError(f"{where}: {key}: expected a sentence or a list of sentences")
    return flat


_LOCALES: dict[str, Locale] = {}


def _locale(language: str) -> Locale:
    found = _LOCALES.get(language)
    if found is None:
        found = _LOCALES[language] = Locale.parse(language.replace("-", "_"))
    return found
