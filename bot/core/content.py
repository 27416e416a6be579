"""Load and validate everything in content/: the medical knowledge, as data.

Loading happens once at start-up. Every problem found is reported together, each
line naming the file and the key path (`content/routines.yaml: routines.desk-sitter.
exercises[2]: unknown exercise 'lunge_strech'`), so whoever edits content can
fix it without reading Python. Nothing here knows about any chat front.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.core import locales, yamlfile
from bot.core.answers import AREAS, KEY_SPECS, KeyKind, Weekday, spec_for
from bot.core.clock import ZoneAliases, load_zone_aliases
from bot.core.locales import REFERENCE, Language
from bot.core.messages import CODE_MESSAGE_KEYS, TERMINAL_MESSAGE_KEYS, Messages, flatten
from bot.core.plan.config import PlanConfig, PlanConfigError, load_plan_config
from bot.core.plan.rules import CheckinRules, CheckinRulesError, load_checkin_rules
from bot.core.policy import URGENCIES, Urgency
from bot.core.rules import FactSpec, Predicate, RuleError, compile_condition, condition_keys, negated_keys
from bot.core.understanding import Lexicon, LexiconError, load_lexicon
from bot.illustrations import ILLUSTRATION_MESSAGE_KEYS, illustration_problems
from bot.reports import REPORT_MESSAGE_KEYS

PARSERS = ("areas", "duration", "age", "pain_score", "yes_no", "timezone", "time", "quiet_hours", "sex")
ROUTINE_FACTS: dict[str, FactSpec] = {
    "urgency": FactSpec("urgency", KeyKind.CHOICE, choices=URGENCIES),
    "ball_release_allowed": FactSpec("ball_release_allowed", KeyKind.BOOL),
}
DEFAULT_LANGUAGE = "en"


class ContentError(ValueError):
    """Content or flow files are invalid; `problems` lists each one, file and key first."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid content:\n  " + "\n  ".join(problems))


# ---------------------------------------------------------------- file schemas


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DoseModel(_Strict):
    sides: Literal["both", "one", "none"]
    hold_seconds: int | None = Field(default=None, ge=1, le=600)
    repetitions: int | None = Field(default=None, ge=1, le=100)
    sets: int | None = Field(default=None, ge=1, le=10)
    minutes: int | None = Field(default=None, ge=1, le=60)


class ExerciseModel(_Strict):
    kind: Literal["stretch", "release", "breathing", "strength", "movement"]
    dose: DoseModel
    frequency: str
    tags: list[str] = Field(min_length=1)


class ExercisesFile(_Strict):
    schema_version: Literal[1]
    exercises: dict[str, ExerciseModel] = Field(min_length=1)


class CadenceModel(_Strict):
    sessions_per_week: int = Field(ge=1, le=7)
    suggested_days: list[Weekday]


class RoutineModel(_Strict):
    exercises: list[str] = Field(min_length=1)
    progression: list[list[str]] = Field(default_factory=list)
    """Harder versions of the routine, each a whole exercise list, easiest first."""
    minutes: int = Field(ge=1, le=120)
    cadence: CadenceModel


class RoutinesFile(_Strict):
    schema_version: Literal[1]
    routines: dict[str, RoutineModel] = Field(min_length=1)


class RedFlagModel(_Strict):
    id: str
    urgency: Literal["EMERGENCY", "URGENT", "ROUTINE"]
    when: Any


class RedFlagsFile(_Strict):
    schema_version: Literal[1]
    rules: list[RedFlagModel] = Field(min_length=1)


class ContraindicationModel(_Strict):
    id: str
    when: Any
    forbids: list[str] = Field(min_length=1)


class ContraindicationsFile(_Strict):
    schema_version: Literal[1]
    contraindications: list[ContraindicationModel] = Field(min_length=1)


class RoutineRuleModel(_Strict):
    routine: str
    when: Any


class RoutineRulesFile(_Strict):
    schema_version: Literal[1]
    rules: list[RoutineRuleModel] = Field(min_length=1)


class OptionModel(_Strict):
    id: str
    value: Any = None
    sets: dict[str, Any] | None = None


class QuestionModel(_Strict):
    type: Literal["yes_no", "single_choice", "multi_choice", "number", "free_text"]
    key: str | None = None
    options: list[OptionModel | str] | None = None
    group: str | None = None
    none_option: bool = False
    parser: str | None = None
    min: int | None = None
    max: int | None = None
    skippable: bool = False
    unsure: Literal["as_yes", "as_no"] | None = None


class QuestionsFile(_Strict):
    schema_version: Literal[1]
    groups: dict[str, list[str]] = Field(default_factory=dict)
    questions: dict[str, QuestionModel] = Field(min_length=1)


# ---------------------------------------------------------------- loaded content


@dataclass(frozen=True)
class Dose:
    sides: str
    hold_seconds: int | None
    repetitions: int | None
    sets: int | None
    minutes: int | None


@dataclass(frozen=True)
class Exercise:
    id: str
    kind: str
    dose: Dose
    frequency: str
    tags: frozenset[str]


@dataclass(frozen=True)
class Routine:
    id: str
    exercises: tuple[str, ...]
    minutes: int
    sessions_per_week: int
    suggested_days: tuple[str, ...]
    levels: tuple[tuple[str, ...], ...] = ()
    """Level 0 is `exercises`; each later level is the next step of the routine."""

    def exercises_at(self, level: int) -> tuple[str, ...]:
        """The exercise list at `level` (clamped to the levels there are)."""
        levels = self.levels or (self.exercises,)
        return levels[max(0, min(level, len(levels) - 1))]

    @property
    def level_count(self) -> int:
        return max(1, len(self.levels))


@dataclass(frozen=True)
class RedFlagRule:
    id: str
    urgency: Urgency
    applies: Predicate


@dataclass(frozen=True)
class Contraindication:
    id: str
    applies: Predicate
    forbids: frozenset[str]


@dataclass(frozen=True)
class RoutineRule:
    routine: str
    applies: Predicate


@dataclass(frozen=True)
class Option:
    """One choice: a button label key, and what choosing it stores."""

    id: str
    label_key: str
    sets: Mapping[str, Any]


@dataclass(frozen=True)
class Question:
    id: str
    type: str
    key: str | None
    options: tuple[Option, ...]
    group: str | None
    none_option: bool
    parser: str | None
    minimum: int | None
    maximum: int | None
    skippable: bool
    unsure: str | None = None
    """A yes/no question's "Not sure" button, and what it counts as ("as_yes", "as_no")."""

    @property
    def text_key(self) -> str:
        return f"question.{self.id}.text"

    @property
    def hint_key(self) -> str:
        return f"question.{self.id}.hint"

    def option(self, option_id: str) -> Option | None:
        return next((option for option in self.options if option.id == option_id), None)

    def option_setting(self, value: object) -> Option | None:
        """The option whose button sets this question's key to `value`: what a typed answer
        stored as its value ("F") is called on screen ("Woman")."""
        return next((option for option in self.options if option.sets.get(self.key or "") == value), None)


@dataclass(frozen=True)
class Content:
    """Everything in content/, validated and compiled, shared by every front.

    The knowledge (exercises, routines, rules, questions) exists once; `messages`,
    `lexicon` and `zone_aliases` are those of one language, `language`. The same
    content in another language is `in_language(code)`: every component built on a
    Content speaks that Content's language, so a component for each language a person
    may have is simply built on the right view.
    """

    root: Path
    exercises: Mapping[str, Exercise]
    routines: Mapping[str, Routine]
    red_flags: tuple[RedFlagRule, ...]
    contraindications: tuple[Contraindication, ...]
    routine_rules: tuple[RoutineRule, ...]
    groups: Mapping[str, tuple[str, ...]]
    questions: Mapping[str, Question]
    messages: Messages
    lexicon: Lexicon
    zone_aliases: ZoneAliases
    checkin_rules: CheckinRules
    plan: PlanConfig
    safety_keys: frozenset[str] = frozenset()
    """Yes/no keys a red-flag or contraindication rule reads: where a yes can matter."""
    protective_keys: frozenset[str] = frozenset()
    """Yes/no keys a red-flag or contraindication rule reads under `not`: a yes to
    one of them can lower an urgency, so typed text never supplies it on its own
    authority (see `triage.merge_text_findings`)."""
    language: str = DEFAULT_LANGUAGE
    default_language: str = DEFAULT_LANGUAGE
    """The language of a person whose language is not known (PSOASBOT_LANGUAGE)."""
    locales: Mapping[str, Language] = field(default_factory=dict)
    """Every language present, English first."""
    views: dict[str, Content] = field(default_factory=dict, compare=False, repr=False)
    """The same content in each language, made once and shared by all the views."""

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.locales) or (self.language,)

    def pick_language(self, tag: str | None) -> str:
        """The language present for a tag ("de-AT" -> "de"); the default when none fits."""
        return locales.pick(tag, self.languages, self.default_language)

    def in_language(self, tag: str | None) -> Content:
        """This content speaking the language present for `tag` (see `pick_language`)."""
        code = self.pick_language(tag)
        if code == self.language:
            return self
        view = self.views.get(code)
        if view is None:
            found = self.locales[code]
            view = replace(
                self,
                language=code,
                messages=found.messages,
                lexicon=found.lexicon,
                zone_aliases=found.zone_aliases,
            )
            self.views[code] = view
        return view


# ---------------------------------------------------------------- loading


class _Collector:
    """Gathers problems so one run of `validate` reports all of them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[str] = []

    def name(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root.parent))
        except ValueError:
            return str(path)

    def add(self, path: Path, key: str, problem: str) -> None:
        self.problems.append(
            f"{self.name(path)}: {key}: {problem}" if key else f"{self.name(path)}: {problem}"
        )

    def parse(self, path: Path, model: type[BaseModel]) -> Any:
        raw = read_yaml(path, self)
        if raw is None:
            return None
        try:
            return model.model_validate(raw)
        except ValidationError as error:
            for detail in error.errors():
                location = ".".join(
                    f"[{part}]" if isinstance(part, int) else str(part) for part in detail["loc"]
                ).replace(".[", "[")
                self.add(path, location, detail["msg"])
            return None

    def compile(
        self, expression: object, path: Path, where: str, facts: Mapping[str, FactSpec] | None = None
    ) -> Predicate:
        try:
            return compile_condition(expression, f"{self.name(path)}: {where}", facts)
        except RuleError as error:
            self.problems.append(str(error))
            return lambda context: False


def read_yaml(path: Path, collector: _Collector) -> Any:
    """Read one YAML file, recording a problem instead of raising."""
    if not path.is_file():
        collector.add(path, "", "file is missing")
        return None
    try:
        with path.open(encoding="utf-8") as handle:
            data = yamlfile.safe_load(handle)
    except yaml.YAMLError as error:
        collector.add(path, "", f"not valid YAML: {error}")
        return None
    if not isinstance(data, dict):
        collector.add(path, "", "expected a mapping at the top level")
        return None
    return data


def load_content(root: Path, language: str = DEFAULT_LANGUAGE, *, front: str | None = None) -> Content:
    """Load content/ under `root`; raise ContentError listing every problem found.

    `front` adds that front's own wording (content/messages/<lang>.<front>.yaml) over the
    language's sentences, for the few a front must say differently."""
    found = _Collector(root)
    files = {
        name: root / f"{name}.yaml"
        for name in ("exercises", "routines", "red_flags", "contraindications", "routine_rules", "questions")
    }
    exercises_file = found.parse(files["exercises"], ExercisesFile)
    routines_file = found.parse(files["routines"], RoutinesFile)
    red_flags_file = found.parse(files["red_flags"], RedFlagsFile)
    contra_file = found.parse(files["contraindications"], ContraindicationsFile)
    rules_file = found.parse(files["routine_rules"], RoutineRulesFile)
    questions_file = found.parse(files["questions"], QuestionsFile)
    neutral_zones = _load_zones(root, found)
    languages = _load_languages(root, language, front, neutral_zones, found)
    default = languages.get(language) if languages is not None else None
    checkin_rules = _load_checkin_rules(root, found)
    plan_config = _load_plan_config(root, found)

    exercises = _exercises(exercises_file)
    routines = _routines(routines_file)
    red_flags = tuple(
        RedFlagRule(
            rule.id, Urgency(rule.urgency), found.compile(rule.when, files["red_flags"], f"rules[{i}].when")
        )
        for i, rule in enumerate(red_flags_file.rules if red_flags_file else ())
    )
    contraindications = tuple(
        Contraindication(
            item.id,
            found.compile(item.when, files["contraindications"], f"contraindications[{i}].when"),
            frozenset(item.forbids),
        )
        for i, item in enumerate(contra_file.contraindications if contra_file else ())
    )
    routine_rules = tuple(
        RoutineRule(
            rule.routine,
            found.compile(rule.when, files["routine_rules"], f"rules[{i}].when", ROUTINE_FACTS),
        )
        for i, rule in enumerate(rules_file.rules if rules_file else ())
    )
    groups = {name: tuple(keys) for name, keys in (questions_file.groups if questions_file else {}).items()}
    questions = _questions(questions_file, groups, files["questions"], found)

    if default is None or languages is None or checkin_rules is None or plan_config is None:
        raise ContentError(found.problems)
    content = Content(
        root=root,
        exercises=exercises,
        routines=routines,
        red_flags=red_flags,
        contraindications=contraindications,
        routine_rules=routine_rules,
        groups=groups,
        questions=questions,
        messages=default.messages,
        lexicon=default.lexicon,
        zone_aliases=default.zone_aliases,
        checkin_rules=checkin_rules,
        plan=plan_config,
        safety_keys=frozenset(
            key
            for model in [
                *(red_flags_file.rules if red_flags_file else ()),
                *(contra_file.contraindications if contra_file else ()),
            ]
            for key in condition_keys(model.when)
        ),
        protective_keys=frozenset(
            key
            for model in [
                *(red_flags_file.rules if red_flags_file else ()),
                *(contra_file.contraindications if contra_file else ()),
            ]
            for key in negated_keys(model.when)
        ),
        language=language,
        default_language=language,
        locales=languages,
    )
    _cross_check(content, files, found)
    for code in content.languages:
        _check_labels(content.in_language(code), found)
    # Every exercise has a valid picture (only its data is checked here; drawing waits
    # until someone asks for it).
    for path, key, problem in illustration_problems(root, content.exercises):
        found.add(path, key, problem)
    if found.problems:
        raise ContentError(found.problems)
    return content


def _load_languages(
    root: Path, default: str, front: str | None, neutral: ZoneAliases | None, found: _Collector
) -> dict[str, Language] | None:
    """Every language present, each checked against English (see bot/core/locales.py);
    `front` lays that front's own wording over each language's sentences."""
    folder = root / "messages"
    codes = locales.present(root)
    if REFERENCE not in codes:
        found.add(folder / f"{REFERENCE}.yaml", "", "file is missing (every language is checked against it)")
        return None
    if default not in codes:
        found.add(
            folder / f"{default}.yaml",
            "",
            f"file is missing: PSOASBOT_LANGUAGE is {default!r}, and the languages present are {codes}",
        )
    raw = {code: _read_messages(folder / f"{code}.yaml", found) for code in codes}
    overlays = {code: _read_overlays(root, code, found) for code in codes}
    reference, reference_overlays = raw[REFERENCE], overlays[REFERENCE]
    for code, entries in raw.items():
        path = folder / f"{code}.yaml"
        if entries is None:
            continue
        problem = locales.babel_problem(code, entries)
        if problem is not None:
            found.add(path, "", problem)
            raw[code] = None
            continue
        for key, markup in locales.markup_problems(entries):
            found.add(path, key, markup)
        for key, choice in locales.setting_problems(entries):
            found.add(path, key, choice)
        if code != REFERENCE and reference is not None:
            for key, difference in locales.parity_problems(code, reference, entries, f"{REFERENCE}.yaml"):
                found.add(path, key, difference)
        _check_overlays(folder, code, entries, overlays[code], reference_overlays, found)
    lexicons = {REFERENCE: _load_lexicon(root, REFERENCE, found)}
    zones = {code: _load_clock_words(root, code, found) for code in codes}
    languages: dict[str, Language] = {}
    for code in codes:
        entries, lexicon = raw[code], lexicons[REFERENCE]
        if (root / "understanding" / f"{code}.yaml").is_file() and code != REFERENCE:
            lexicon = _load_lexicon(root, code, found)
        own = zones[code]
        if entries is None or lexicon is None or own is None or neutral is None:
            continue
        others = [zones[other] for other in codes if other != code and zones[other] is not None]
        overlay = overlays[code].get(front, {}) if front is not None else {}
        languages[code] = Language(
            code=code,
            messages=Messages(code, entries, overlay),
            zone_aliases=own.combined(neutral, *(item for item in others if item is not None)),
            lexicon=lexicon,
        )
    return languages if len(languages) == len(codes) else None


def _read_messages(path: Path, found: _Collector) -> dict[str, str | tuple[str, ...]] | None:
    raw = read_yaml(path, found)
    if raw is None:
        return None
    try:
        return flatten(raw, found.name(path))
    except ValueError as error:
        found.problems.append(str(error))
        return None


def _read_overlays(root: Path, code: str, found: _Collector) -> dict[str, dict[str, str | tuple[str, ...]]]:
    """Each front's own wording for one language: <lang>.<front>.yaml, by front."""
    overlays: dict[str, dict[str, str | tuple[str, ...]]] = {}
    for path in sorted((root / "messages").glob(f"{code}.*.yaml")):
        front = path.stem.removeprefix(f"{code}.")
        if "." in front:
            continue
        entries = _read_messages(path, found)
        if entries is not None:
            overlays[front] = entries
    return overlays


def _check_overlays(
    folder: Path,
    code: str,
    entries: Mapping[str, str | tuple[str, ...]],
    own: Mapping[str, Mapping[str, str | tuple[str, ...]]],
    reference: Mapping[str, Mapping[str, str | tuple[str, ...]]],
    found: _Collector,
) -> None:
    """A front's wording only changes sentences the language has (or adds the front's own,
    under `<front>.`); each language words every front English words."""
    for front, overlay in own.items():
        path = folder / f"{code}.{front}.yaml"
        for key in overlay:
            if key not in entries and not key.startswith(f"{front}."):
                found.add(path, key, "not a key of the language's messages file")
        for key, markup in locales.markup_problems(overlay):
            found.add(path, key, markup)
        if front == "terminal":
            for key in TERMINAL_MESSAGE_KEYS:
                if key not in overlay:
                    found.add(path, key, "missing message (needed by the terminal chat)")
        if code != REFERENCE and front in reference:
            reference_name = f"{REFERENCE}.{front}.yaml"
            for key, difference in locales.parity_problems(code, reference[front], overlay, reference_name):
                found.add(path, key, difference)
    for front in reference.keys() - own.keys():
        found.add(folder / f"{code}.{front}.yaml", "", f"file is missing ({REFERENCE}.{front}.yaml has it)")


def _load_clock_words(root: Path, code: str, found: _Collector) -> ZoneAliases | None:
    path = root / "clock" / f"{code}.yaml"
    if not path.is_file():
        found.add(path, "", "file is missing (every language names its own places and time words)")
        return None
    try:
        return load_zone_aliases(path, with_words=True)
    except ValueError as error:
        found.problems.append(str(error))  # already names the file and key
        return None


def _load_lexicon(root: Path, language: str, found: _Collector) -> Lexicon | None:
    path = root / "understanding" / f"{language}.yaml"
    try:
        return load_lexicon(path)
    except LexiconError as error:
        found.problems.append(str(error))
        return None
    except OSError as error:
        found.add(path, "", f"cannot be read: {error}")
        return None


def _load_zones(root: Path, found: _Collector) -> ZoneAliases | None:
    path = root / "timezones.yaml"
    try:
        return load_zone_aliases(path)
    except ValueError as error:
        found.problems.append(str(error))  # already names the file and key
        return None
    except OSError as error:
        found.add(path, "", f"cannot be read: {error}")
        return None


def _load_checkin_rules(root: Path, found: _Collector) -> CheckinRules | None:
    path = root / "checkin_rules.yaml"
    try:
        return load_checkin_rules(path, found.name(path))
    except CheckinRulesError as error:
        found.problems.extend(error.problems)
        return None
    except OSError as error:
        found.add(path, "", f"cannot be read: {error}")
        return None


def _load_plan_config(root: Path, found: _Collector) -> PlanConfig | None:
    path = root / "plan.yaml"
    try:
        return load_plan_config(path, found.name(path))
    except PlanConfigError as error:
        found.problems.extend(error.problems)
        return None
    except OSError as error:
        found.add(path, "", f"cannot be read: {error}")
        return None


def _exercises(model: ExercisesFile | None) -> dict[str, Exercise]:
    if model is None:
        return {}
    return {
        exercise_id: Exercise(
            id=exercise_id,
            kind=item.kind,
            dose=Dose(**item.dose.model_dump()),
            frequency=item.frequency,
            tags=frozenset(item.tags),
        )
        for exercise_id, item in model.exercises.items()
    }


def _routines(model: RoutinesFile | None) -> dict[str, Routine]:
    if model is None:
        return {}
    return {
        routine_id: Routine(
            id=routine_id,
            exercises=tuple(item.exercises),
            minutes=item.minutes,
            sessions_per_week=item.cadence.sessions_per_week,
            suggested_days=tuple(item.cadence.suggested_days),
            levels=(tuple(item.exercises), *(tuple(level) for level in item.progression)),
        )
        for routine_id, item in model.routines.items()
    }


def _questions(
    model: QuestionsFile | None,
    groups: Mapping[str, tuple[str, ...]],
    path: Path,
    found: _Collector,
) -> dict[str, Question]:
    if model is None:
        return {}
    for group, keys in groups.items():
        for index, key in enumerate(keys):
            if KEY_SPECS.get(key) is None or KEY_SPECS[key].kind is not KeyKind.BOOL:
                found.add(path, f"groups.{group}[{index}]", f"{key!r} is not a yes/no answer key")
    questions: dict[str, Question] = {}
    for question_id, item in model.questions.items():
        where = f"questions.{question_id}"
        if item.key is not None and spec_for(item.key) is None:
            found.add(path, f"{where}.key", f"unknown answer key {item.key!r}")
        if item.group is not None and item.group not in groups:
            found.add(path, f"{where}.group", f"unknown group {item.group!r}")
        if item.parser is not None and item.parser not in PARSERS:
            found.add(path, f"{where}.parser", f"unknown parser {item.parser!r}; use one of {list(PARSERS)}")
        options = _options(question_id, item, groups, path, found)
        if item.type in ("single_choice", "multi_choice") and not options:
            found.add(path, f"{where}.options", "a choice question needs options or a group")
        if item.type == "number" and (item.min is None or item.max is None or item.key is None):
            found.add(path, where, "a number question needs key, min and max")
        questions[question_id] = Question(
            id=question_id,
            type=item.type,
            key=item.key,
            options=options,
            group=item.group,
            none_option=item.none_option,
            parser=item.parser,
            minimum=item.min,
            maximum=item.max,
            skippable=item.skippable,
            unsure=item.unsure,
        )
        if item.unsure is not None and item.type != "yes_no":
            found.add(path, f"{where}.unsure", "only a yes/no question can offer Not sure")
    return questions


def _options(
    question_id: str,
    item: QuestionModel,
    groups: Mapping[str, tuple[str, ...]],
    path: Path,
    found: _Collector,
) -> tuple[Option, ...]:
    where = f"questions.{question_id}.options"
    if item.group is not None and item.type == "multi_choice":
        # Buttons carry the short label; the question's text lists the full descriptions.
        return tuple(Option(key, f"flag_short.{key}", {key: True}) for key in groups.get(item.group, ()))
    options: list[Option] = []
    for index, raw in enumerate(item.options or ()):
        if isinstance(raw, str):
            spec = spec_for(item.key) if item.key else None
            prefix = {KeyKind.AREA_LIST: "area", KeyKind.DAY_LIST: "day"}.get(spec.kind) if spec else None
            if spec is None or prefix is None:
                found.add(path, f"{where}[{index}]", "plain options need a list key (areas or days)")
            elif raw not in spec.choices:
                found.add(
                    path, f"{where}[{index}]", f"unknown value {raw!r}; use one of {list(spec.choices)}"
                )
            options.append(Option(raw, f"{prefix}.{raw}", {}))
            continue
        if (raw.value is None) == (raw.sets is None):
            found.add(path, f"{where}[{index}]", "give exactly one of value or sets")
            continue
        if raw.value is not None:
            if item.key is None:
                found.add(path, f"{where}[{index}].value", "a value needs the question's key")
                continue
            _check_value(item.key, raw.value, path, f"{where}[{index}].value", found)
            sets = {item.key: raw.value}
        else:
            sets = dict(raw.sets or {})
            for key, value in sets.items():
                _check_value(key, value, path, f"{where}[{index}].sets.{key}", found)
        options.append(Option(raw.id, f"question.{question_id}.option.{raw.id}", sets))
    return tuple(options)


def _check_value(key: str, value: Any, path: Path, where: str, found: _Collector) -> None:
    spec = spec_for(key)
    if spec is None:
        found.add(path, where, f"unknown answer key {key!r}")
        return
    ok = {
        KeyKind.BOOL: lambda: isinstance(value, bool),
        KeyKind.NUMBER: lambda: isinstance(value, int | float) and not isinstance(value, bool),
        KeyKind.INTEGER: lambda: isinstance(value, int) and not isinstance(value, bool),
        KeyKind.CHOICE: lambda: value in spec.choices,
        KeyKind.TEXT: lambda: isinstance(value, str),
    }.get(spec.kind, lambda: False)()
    if not ok:
        found.add(path, where, f"{value!r} is not a valid {spec.kind.value} for {key!r}")


def _cross_check(content: Content, files: Mapping[str, Path], found: _Collector) -> None:
    """References between files: ids, tags, message keys, safety invariants."""
    reference = content.in_language(REFERENCE)
    messages = reference.messages
    messages_path = content.root / "messages" / f"{REFERENCE}.yaml"
    needed: dict[str, str] = {
        key: "used by the program"
        for key in (*CODE_MESSAGE_KEYS, *REPORT_MESSAGE_KEYS, *ILLUSTRATION_MESSAGE_KEYS)
    }

    all_tags: set[str] = set()
    for exercise in content.exercises.values():
        all_tags |= exercise.tags
        for part in ("name", "steps", "feel", "stop"):
            needed[f"exercise.{exercise.id}.{part}"] = f"exercise {exercise.id}"
        needed[f"frequency.{exercise.frequency}"] = f"exercise {exercise.id}"
    for routine in content.routines.values():
        for level, exercise_ids in enumerate(routine.levels):
            where = "exercises" if level == 0 else f"progression[{level - 1}]"
            for index, exercise_id in enumerate(exercise_ids):
                if exercise_id not in content.exercises:
                    found.add(
                        files["routines"],
                        f"routines.{routine.id}.{where}[{index}]",
                        f"unknown exercise {exercise_id!r}",
                    )
            if level > 0:
                needed[f"routine.{routine.id}.level.{level}"] = f"routine {routine.id} progression"
        if len(routine.suggested_days) != routine.sessions_per_week:
            found.add(
                files["routines"],
                f"routines.{routine.id}.cadence",
                "suggested_days must list sessions_per_week days",
            )
        for part in ("name", "summary", "safety", "safety_line"):
            needed[f"routine.{routine.id}.{part}"] = f"routine {routine.id}"
    for index, contraindication in enumerate(content.contraindications):
        needed[f"contraindication.{contraindication.id}"] = "contraindications.yaml"
        for tag in contraindication.forbids - all_tags:
            found.add(
                files["contraindications"],
                f"contraindications[{index}].forbids",
                f"tag {tag!r} is on no exercise",
            )
        all_tags |= contraindication.forbids
    for tag in all_tags:
        needed[f"tag.{tag}"] = "exercise tags"
    seen_rules: set[str] = set()
    for index, rule in enumerate(content.red_flags):
        if rule.id in seen_rules:
            found.add(files["red_flags"], f"rules[{index}].id", f"duplicate id {rule.id!r}")
        seen_rules.add(rule.id)
        needed[f"red_flag.{rule.id}.reason"] = "red_flags.yaml"
        needed[f"red_flag.{rule.id}.action"] = "red_flags.yaml"
    for index, routine_rule in enumerate(content.routine_rules):
        if routine_rule.routine not in content.routines:
            found.add(
                files["routine_rules"], f"rules[{index}].routine", f"unknown routine {routine_rule.routine!r}"
            )
    _check_safe_routines(content, files["routines"], found)
    for question in content.questions.values():
        needed[question.text_key] = f"question {question.id}"
        for option in question.options:
            needed[option.label_key] = f"question {question.id}"
    for group, keys in content.groups.items():
        for key in keys:
            needed[f"flag.{key}"] = f"group {group}"
    for checkin_rule in content.checkin_rules.rules:
        needed[f"checkin_rule.{checkin_rule.id}"] = "checkin_rules.yaml"
    for key, user in sorted(needed.items()):
        if not messages.has(key):
            found.add(messages_path, key, f"missing message (needed by {user})")


BUTTON_LABEL_KEYS = (
    "common.yes",
    "common.no",
    "common.back",
    "common.done",
    "common.none_of_these",
    "common.skip",
    "common.not_sure",
    "result.set_reminders",
    "result.next_steps",
    "bot.forget_yes",
    "bot.forget_no",
    "plan.hurt_not_sure_which",
)
BUTTON_LABEL_PREFIXES = ("plan.button.", "guide.button.", "routine_view.button.")
COMMAND_LIMIT = 256


def _check_labels(content: Content, found: _Collector) -> None:
    """Every button label, as a keyboard shows it (a dose filled in), fits on a phone. The
    tick a chosen option gains is not counted: phones leave room for it."""
    m = content.messages
    path = content.root / "messages" / f"{content.language}.yaml"
    labels: list[tuple[str, str]] = []

    def shown(key: str, **params: object) -> None:
        if m.has(key):
            with contextlib.suppress(KeyError, IndexError, ValueError):  # a broken placeholder:
                labels.append((key, m.text(key, **params)))  # reported by the language's checks

    plurals = locales.plural_groups(m.entries)
    for key in (*BUTTON_LABEL_KEYS, *(k for k in m.entries if k.startswith(BUTTON_LABEL_PREFIXES))):
        if key.rsplit(".", 1)[0] not in plurals:
            shown(key, minutes=int(content.plan.snooze.total_seconds() // 60))
    holds = {
        exercise.dose.hold_seconds for exercise in content.exercises.values() if exercise.dose.hold_seconds
    }
    for stem in (stem for stem in plurals if stem.startswith(BUTTON_LABEL_PREFIXES)):
        with contextlib.suppress(KeyError, IndexError, ValueError):
            labels += [(stem, m.plural(stem, hold)) for hold in sorted(holds)]
    for question in content.questions.values():
        for option in question.options:
            shown(option.label_key)
        for which in ("yes", "no"):
            shown(f"question.{question.id}.option.{which}")
    for area in AREAS:
        shown(f"area.{area}")
    for exercise_id in content.exercises:
        shown(f"exercise.{exercise_id}.name")
    shown("language.name")
    longest: dict[str, str] = {}
    for key, label in labels:
        if len(label) > len(longest.get(key, "")):
            longest[key] = label
    for key, problem in locales.label_problems(longest.items()):
        found.add(path, key, problem)
    for key in (key for key in m.entries if key.startswith("telegram.command.")):
        description = m.text(key)  # Telegram refuses a whole menu over one that is too long
        if not 1 <= len(description) <= COMMAND_LIMIT:
            found.add(
                path,
                key,
                f"a command's description has 1 to {COMMAND_LIMIT} characters, not {len(description)}",
            )


def _check_safe_routines(content: Content, path: Path, found: _Collector) -> None:
    """The routines chosen for people who must avoid abdominal pressure never contain it, at
    any level (the eased routine of content/plan.yaml is checked the same way)."""
    for routine_id in ("no-abdominal-pressure", content.plan.eased_routine):
        routine = content.routines.get(routine_id)
        if routine is None:
            found.add(path, f"routines.{routine_id}", "required routine is missing")
            continue
        for exercise_id in {item for level in routine.levels for item in level}:
            exercise = content.exercises.get(exercise_id)
            if exercise is not None and "abdominal_pressure" in exercise.tags:
                found.add(path, f"routines.{routine_id}", f"{exercise_id!r} puts pressure on the abdomen")
    for key, routine_id in (
        ("routines.default", content.plan.default_routine),
        ("routines.eased", content.plan.eased_routine),
    ):
        if routine_id not in content.routines:
            found.add(content.root / "plan.yaml", key, f"unknown routine {routine_id!r}")
