"""User-facing sentences, looked up by key from content/messages/<language>.yaml.

Code and content refer to sentences only by key, so a translation is one more
file with the same keys. Nested YAML maps flatten to dotted keys
(`question.consent.text`); a value is a sentence or a list of sentences.
Placeholders use `{name}` and are filled by `text(key, name=...)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from string import Formatter
from typing import Any, Final

# Keys the code itself needs, beyond those implied by content (questions, rules, exercises).
CODE_MESSAGE_KEYS: Final[tuple[str, ...]] = (
    "common.yes",
    "common.no",
    "common.back",
    "common.back_words",
    "common.done",
    "common.skip",
    "common.none_of_these",
    "common.selected_mark",
    "bot.greeting",
    "bot.disclaimer",
    "bot.help",
    "bot.welcome_back",
    "bot.declined",
    "bot.cancelled",
    "bot.nothing_to_cancel",
    "bot.no_check_yet",
    "bot.check_finished",
    "bot.unsupported_input",
    "bot.stale_button",
    "bot.too_long",
    "bot.cannot_go_back",
    "bot.flag_noted",
    "bot.choose_at_least_one",
    "bot.not_understood",
    "bot.private_only",
    "bot.storage_error",
    "bot.edited_message",
    "bot.mydata_caption",
    "bot.mydata_empty",
    "bot.forget_confirm",
    "bot.forget_yes",
    "bot.forget_no",
    "bot.forgotten",
    "bot.forget_kept",
    "bot.forget_expired",
    "telegram.command.start",
    "telegram.command.check",
    "telegram.command.routine",
    "telegram.command.help",
    "telegram.command.cancel",
    "telegram.command.mydata",
    "telegram.command.forget",
    "telegram.command.reminders",
    "telegram.command.progress",
    "telegram.command.summary",
    "telegram.command.timezone",
    "result.title.EMERGENCY",
    "result.title.URGENT",
    "result.title.ROUTINE",
    "result.title.SELF_CARE",
    "result.intro.EMERGENCY",
    "result.intro.URGENT",
    "result.intro.ROUTINE",
    "result.intro.SELF_CARE",
    "result.why",
    "result.what_to_do",
    "result.no_exercises",
    "result.safety_net",
    "result.not_a_diagnosis",
    "result.ball_not_suitable",
    "result.routine_offer",
    "result.next_steps",
    "result.set_reminders",
    "reminders.unavailable",
    "reminders.saved",
    "reminders.timezone_saved",
    "reminders.time_changed",
    "reminders.setup_cancelled",
    "result.pattern.no_warning_signs",
    "result.pattern.sitting",
    "result.pattern.areas",
    "routine_view.heading",
    "routine_view.minutes_and_cadence",
    "routine_view.left_out",
    "routine_view.safety_heading",
    "routine_view.none_yet",
    "dose.hold_seconds",
    "dose.repetitions",
    "dose.sets",
    "dose.minutes",
    "dose.each_side",
    "exercise_labels.feel",
    "exercise_labels.stop",
    "exercise_labels.how_often",
    "plan.reminder_intro",
    "plan.reminder_steps_hint",
    "plan.steps_unavailable",
    "plan.already_noted",
    "plan.session_done",
    "plan.session_skipped",
    "plan.session_snoozed",
    "plan.hurt_where",
    "plan.hurt_how_much",
    "plan.hurt_settled",
    "plan.hurt_noted",
    "plan.checkin_pain_now",
    "plan.checkin_pain_worst",
    "plan.checkin_settled",
    "plan.checkin_flags",
    "plan.checkin_which_flags",
    "plan.checkin_thanks",
    "plan.reminders_paused",
    "plan.no_reminders",
    "plan.reminder_gone",
    "plan.paused",
    "plan.resumed",
    "plan.deleted",
    "plan.status.active",
    "plan.status.paused",
    "plan.status.finished",
    "plan.reminder_line.session",
    "plan.reminder_line.weekly_checkin",
    "plan.button.done",
    "plan.button.snooze",
    "plan.button.skip",
    "plan.button.hurt",
    "plan.button.steps",
    "plan.button.pause",
    "plan.button.resume",
    "plan.button.change_time",
    "plan.button.delete",
    "plan.decision.ease_title",
    "plan.decision.ease",
    "plan.decision.refer_title",
    "plan.decision.refer",
    "plan.decision.progress",
    "plan.decision.continue.better",
    "plan.decision.continue.same",
    "plan.decision.continue.worse",
    "day.mon",
    "day.tue",
    "day.wed",
    "day.thu",
    "day.fri",
    "day.sat",
    "day.sun",
)


class MissingMessage(KeyError):
    """A sentence key has no text; content validation should have caught it."""


@dataclass(frozen=True)
class Messages:
    """The sentences of one language."""

    language: str
    entries: Mapping[str, str | tuple[str, ...]]

    def has(self, key: str) -> bool:
        return key in self.entries

    def text(self, key: str, **params: Any) -> str:
        """Return the sentence for `key` with `{placeholders}` filled in."""
        value = self.entries.get(key)
        if value is None:
            raise MissingMessage(key)
        if isinstance(value, tuple):
            value = "\n".join(value)
        return value.format_map(params) if params else value

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
