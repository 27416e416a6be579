"""The answer keys of a symptom check: the `psoasbot assess` contract.

This module is the single definition of what an answer can be. The conversation
stores answers under these keys, triage and routine rules refer to them, and
`psoasbot assess` validates its JSON input against them, so the terminal chat,
Telegram and `assess` agree on every case by construction.

Two keys go beyond the published contract because the conversation can learn
them and they change the urgency: `fainting` (fainted or nearly fainted with the
pain) and `hernia_irreducible` (a hernia or groin lump that has turned hard,
very painful, will not go back in, or comes with vomiting). `assess` accepts
them as well, and can also learn them from `text`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, Literal, get_args


class Area(StrEnum):
    """Body areas a person can point to, for both pain and where it spreads."""

    LOWER_BACK = "lower_back"
    HIP_FRONT = "hip_front"
    GROIN = "groin"
    FRONT_THIGH = "front_thigh"
    BUTTOCK = "buttock"
    BELOW_KNEE = "below_knee"
    ABDOMEN = "abdomen"


AREAS: Final[tuple[str, ...]] = tuple(area.value for area in Area)
SEXES: Final[tuple[str, ...]] = ("F", "M", "X")

RED_FLAG_KEYS: Final[tuple[str, ...]] = (
    "fever",
    "saddle_numbness",
    "bladder_bowel_change",
    "leg_weakness_progressive",
    "leg_numbness",
    "bilateral_leg_symptoms",
    "pulsating_abdominal_mass",
    "sudden_severe_onset",
    "trauma",
    "unable_to_bear_weight",
    "limp_or_pain_weight_bearing",
    "cancer_history",
    "unexplained_weight_loss",
    "night_pain_unrelenting",
    "immunosuppressed",
    "iv_drug_use",
    "steroid_use",
    "new_groin_lump",
    "hip_clicking_locking",
)

EXTENSION_FLAG_KEYS: Final[tuple[str, ...]] = ("fainting", "hernia_irreducible")

CONTEXT_KEYS: Final[tuple[str, ...]] = (
    "pregnant",
    "recent_abdominal_surgery",
    "anticoagulants",
    "hernia",
    "known_aaa",
    "osteoporosis",
    "ibd",
    "high_impact_training",
    "previously_assessed",
    "worse_after_release",
)

SITTING_KEYS: Final[tuple[str, ...]] = ("worse_when_sitting", "worse_rising_from_chair")

BOOLEAN_KEYS: Final[tuple[str, ...]] = SITTING_KEYS + RED_FLAG_KEYS + EXTENSION_FLAG_KEYS + CONTEXT_KEYS


class KeyKind(StrEnum):
    """The shape of a value stored under an answer key."""

    BOOL = "bool"
    AREA_LIST = "area_list"
    DAY_LIST = "day_list"
    NUMBER = "number"
    INTEGER = "integer"
    CHOICE = "choice"
    TEXT = "text"


@dataclass(frozen=True)
class KeySpec:
    """What one answer key holds, and the bounds `assess` enforces."""

    name: str
    kind: KeyKind
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()


def _build_specs() -> dict[str, KeySpec]:
    specs = {
        "pain_location": KeySpec("pain_location", KeyKind.AREA_LIST, choices=AREAS),
        "radiates_to": KeySpec("radiates_to", KeyKind.AREA_LIST, choices=AREAS),
        "duration_weeks": KeySpec("duration_weeks", KeyKind.NUMBER, minimum=0, maximum=5200),
        "pain_now": KeySpec("pain_now", KeyKind.INTEGER, minimum=0, maximum=10),
        "age": KeySpec("age", KeyKind.INTEGER, minimum=0, maximum=120),
        "sex": KeySpec("sex", KeyKind.CHOICE, choices=SEXES),
        "text": KeySpec("text", KeyKind.TEXT),
    }
    for key in BOOLEAN_KEYS:
        specs[key] = KeySpec(key, KeyKind.BOOL)
    return specs


KEY_SPECS: Final[Mapping[str, KeySpec]] = _build_specs()

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: Final[tuple[str, ...]] = get_args(Weekday)

SETUP_KEY_SPECS: Final[Mapping[str, KeySpec]] = {
    "timezone": KeySpec("timezone", KeyKind.TEXT),
    "reminder_days": KeySpec("reminder_days", KeyKind.DAY_LIST, choices=WEEKDAYS),
    "reminder_time": KeySpec("reminder_time", KeyKind.TEXT),
    "quiet_hours": KeySpec("quiet_hours", KeyKind.TEXT),
    "checked_by_professional": KeySpec("checked_by_professional", KeyKind.BOOL),
}
"""Keys the reminder set-up and the plan review ask for. They belong to the
conversation's context, not to a symptom check, so they never reach triage or `assess`."""


def spec_for(key: str) -> KeySpec | None:
    return KEY_SPECS.get(key) or SETUP_KEY_SPECS.get(key)


Answers = dict[str, Any]
"""Answers as stored and evaluated: contract key -> value. Absent booleans mean false."""


def value_of(answers: Mapping[str, Any], key: str) -> Any:
    """Return the answer for `key`, with the contract's defaults for absent keys.

    Booleans default to False and lists to empty; numbers and choices stay None
    (unknown), and rules that compare them treat unknown as "does not match".
    """
    if key in answers and answers[key] is not None:
        return answers[key]
    spec = KEY_SPECS[key]
    if spec.kind is KeyKind.BOOL:
        return False
    if spec.kind is KeyKind.AREA_LIST:
        return []
    return None


class AnswerError(ValueError):
    """An answer set does not fit the contract; the message is one line for the user."""


def validate_answers(raw: object) -> Answers:
    """Check a whole answer set (as `psoasbot assess` receives it) against the contract.

    Strict on purpose: a number where a yes/no belongs, or `null` anywhere, is a
    mistake in the caller, and guessing what it meant could under-triage.
    """
    if not isinstance(raw, Mapping):
        raise AnswerError("expected a JSON object of answers")
    answers: Answers = {}
    for key, value in raw.items():
        spec = KEY_SPECS.get(key)
        if spec is None:
            raise AnswerError(f"unknown key {key!r}")
        answers[key] = _checked(spec, value)
    if not answers.get("pain_location") and not str(answers.get("text", "")).strip():
        raise AnswerError("'pain_location' is required (a non-empty list) unless 'text' is given")
    return answers


def _checked(spec: KeySpec, value: Any) -> Any:
    key = spec.name
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if spec.kind is KeyKind.BOOL:
        if not isinstance(value, bool):
            raise AnswerError(f"{key!r} must be true or false, got {value!r}")
        return value
    if spec.kind is KeyKind.AREA_LIST:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise AnswerError(f"{key!r} must be a list of areas, got {value!r}")
        unknown = [item for item in value if item not in spec.choices]
        if unknown:
            raise AnswerError(f"{key!r} has unknown area(s) {unknown}; use {list(spec.choices)}")
        return list(dict.fromkeys(value))
    if spec.kind in (KeyKind.NUMBER, KeyKind.INTEGER):
        if not is_number or (spec.kind is KeyKind.INTEGER and not isinstance(value, int)):
            wanted = "a whole number" if spec.kind is KeyKind.INTEGER else "a number"
            raise AnswerError(f"{key!r} must be {wanted}, got {value!r}")
        if (
            value != value
            or (spec.minimum is not None and value < spec.minimum)
            or (spec.maximum is not None and value > spec.maximum)
        ):
            raise AnswerError(f"{key!r} must be between {spec.minimum:g} and {spec.maximum:g}, got {value!r}")
        return value
    if spec.kind is KeyKind.CHOICE:
        if value not in spec.choices:
            raise AnswerError(f"{key!r} must be one of {list(spec.choices)}, got {value!r}")
        return value
    if not isinstance(value, str):
        raise AnswerError(f"{key!r} must be a string, got {value!r}")
    return value
