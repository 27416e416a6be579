"""A language's lexicon: every word and pattern the reader uses, loaded from YAML and compiled.

`content/understanding/<lang>.yaml` holds the words; this module checks the file
(every error names the file and the key), expands the placeholders described at
the top of the English file, and compiles everything once at start-up.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from bot.core import yamlfile
from bot.core.answers import AREAS, BOOLEAN_KEYS, SEXES
from bot.core.understanding.patterns import alternation, leading_literals, squash

_PLACEHOLDER: Final = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_DURATION_KINDS: Final[tuple[str, ...]] = ("for", "ago", "since", "event", "since_then", "bare", "calendar")
_COMPUTED: Final[tuple[str, ...]] = (
    "count",
    "number",
    "unit",
    "unit_abbrev",
    "relative",
    "relative_since",
    "vague",
    "calendar",
    "relation",
    "sex_word",
    "sex_letter",
)
_SECTIONS: Final[tuple[str, ...]] = (
    "normalise",
    "templates",
    "numbers",
    "clauses",
    "negation",
    "context",
    "patient",
    "fuzzy",
    "flags",
    "areas",
    "symptoms",
    "duration",
    "pain_score",
    "age",
    "sex",
    "yes_no",
    "answers",
)
_FLAG_FIELDS: Final[frozenset[str]] = frozenset(
    {"patterns", "except", "negative", "context", "lasting", "contextual"}
)


class LexiconError(ValueError):
    """A lexicon file is missing, malformed or invalid; the message names file and key."""


@dataclass(frozen=True)
class FlagRule:
    """The compiled patterns of one boolean answer key.

    For speed, patterns that start with known text are tried only at words that
    start with it (see `Lexicon.dispatch`); `residual` holds the others, which
    are searched in full.
    """

    key: str
    patterns: tuple[re.Pattern[str], ...]
    residual: re.Pattern[str] | None
    exceptions: re.Pattern[str] | None
    negative: re.Pattern[str] | None
    context: re.Pattern[str] | None
    lasting: re.Pattern[str] | None = None
    """Mentions that are for good (a removed spleen): never read as past."""
    contextual: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = ()
    """(context, patterns): phrases that count only where the sentence, or the one before,
    names the context ("it's gone hard" after "my hernia ...")."""


@dataclass(frozen=True)
class TimeUnit:
    """A unit of time and the forms that name it."""

    weeks: float
    forms: re.Pattern[str]


@dataclass(frozen=True)
class YesNo:
    """Short answers to a yes/no question."""

    unsure: tuple[str, ...]
    yes_weak: tuple[str, ...]
    yes_leading: tuple[str, ...]
    yes_whole: tuple[str, ...]
    no_leading: tuple[str, ...]
    no_whole: tuple[str, ...]


@dataclass(frozen=True)
class PatientWords:
    """How a message written for someone else is recognised (see `subject`)."""

    proxy: tuple[re.Pattern[str], ...]
    lead: tuple[re.Pattern[str], ...]
    relation: re.Pattern[str]
    """Any relation word ("dad", "wife", "flatmate")."""
    first_person: re.Pattern[str]
    third_person: re.Pattern[str]
    he: re.Pattern[str]
    she: re.Pattern[str]
    relation_sex: Mapping[str, str]
    pronouns: re.Pattern[str] | None
    pronoun_targets: Mapping[str, str]
    """Third person to first ("she can't hold her wee" -> "i can't hold my wee") for reading a
    message about someone else with the patterns written for the writer."""
    others_owners: frozenset[str]
    """Possessives that make a relative the patient's, not the patient ("his mum")."""
    age_patterns: tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class Spelling:
    """Typos of danger words corrected before reading (see `spelling`)."""

    words: tuple[str, ...]
    keep: frozenset[str]
    known: frozenset[str]
    """Every word the lexicon spells out: never a typo."""
    min_length: int
    min_score: float


@dataclass(frozen=True)
class Calendar:
    """Named days of the year ("christmas", "half term", "march") for "since ..." phrases."""

    days: Mapping[str, tuple[tuple[int, int], ...]]
    present: tuple[re.Pattern[str], ...]
    """Phrases that say what today is ("we're nearly at the end of february")."""
    months: Mapping[str, int]


@dataclass(frozen=True)
class Lexicon:
    """Compiled patterns of one language, loaded by `load_lexicon`."""

    source: str
    language: str
    rewrite: re.Pattern[str] | None
    rewrites: Mapping[str, str]
    # letters spelt another way when typed ("ü" as "ue"): the text is folded to one form
    fold: Mapping[int, str]
    number_values: Mapping[str, float]
    sentence_end: re.Pattern[str]
    contrast: re.Pattern[str]
    clause_break: re.Pattern[str]
    neg_pre: re.Pattern[str]
    neg_pseudo: re.Pattern[str]
    scope_break: re.Pattern[str]
    weak_break: re.Pattern[str]
    verbs: re.Pattern[str]
    neg_post: re.Pattern[str]
    neg_post_change: re.Pattern[str] | None
    change_flags: frozenset[str]
    neg_post_immediate: re.Pattern[str]
    post_blockers: re.Pattern[str]
    other_person: re.Pattern[str]
    other_person_blockers: re.Pattern[str]
    other_person_post: re.Pattern[str]
    hypothetical: re.Pattern[str]
    hypothetical_post: re.Pattern[str]
    max_gap_words: int
    max_post_gap_words: int
    uncertain_pre: re.Pattern[str]
    uncertain_post: re.Pattern[str]
    past_pre: re.Pattern[str]
    vague_past: re.Pattern[str]
    past_post: re.Pattern[str]
    question_cue: re.Pattern[str]
    answer_no: re.Pattern[str]
    answer_yes: re.Pattern[str]
    answer_max_words: int
    context_gap_words: int
    resolved_post: re.Pattern[str]
    ongoing: re.Pattern[str]
    past_counts: frozenset[str]
    """Keys a past mention still counts for (`keys.yaml` beside the lexicon)."""
    resolved_counts: frozenset[str]
    """Keys for which only a long-ago mention is history, not a resolved one."""
    patient: PatientWords
    spelling: Spelling
    calendar: Calendar
    episode: re.Pattern[str]
    unrelated: tuple[re.Pattern[str], ...]
    """Times of other events ("born seven weeks ago"): never the pain's duration."""
    """Words that tie a time to the current episode ("this flare", "this time")."""
    flags: tuple[FlagRule, ...]
    dispatch: Mapping[str, tuple[tuple[int, re.Pattern[str]], ...]]
    areas: re.Pattern[str]
    area_answers: re.Pattern[str]
    pain_words: re.Pattern[str]
    other_symptoms: re.Pattern[str]
    radiation: re.Pattern[str]
    radiation_source: re.Pattern[str]
    diagnosis: re.Pattern[str]
    link_words: re.Pattern[str]
    units: tuple[TimeUnit, ...]
    relative: tuple[tuple[re.Pattern[str], float], ...]
    vague: Mapping[str, float]
    duration_patterns: tuple[tuple[str, re.Pattern[str]], ...]
    time_words: re.Pattern[str]
    onset: re.Pattern[str]
    pain_patterns: tuple[re.Pattern[str], ...]
    now_cue: re.Pattern[str]
    age_patterns: tuple[re.Pattern[str], ...]
    age_decades: Mapping[str, int]
    age_modifiers: Mapping[str, int]
    age_school_offset: int
    age_words: re.Pattern[str] | None
    age_word_values: Mapping[str, int]
    sex_patterns: tuple[re.Pattern[str], ...]
    sex_codes: Mapping[str, str]
    yes_no: YesNo
    answer_pain: tuple[re.Pattern[str], ...]
    answer_age: tuple[re.Pattern[str], ...]
    answer_duration: tuple[re.Pattern[str], ...]
    answer_options: Mapping[str, tuple[tuple[str, re.Pattern[str]], ...]] = field(default_factory=dict)
    """Per question id: (option id, phrases choosing it), in the order they are tried."""


class _Builder:
    """Reads and validates one lexicon file, naming the key path of every problem."""

    def __init__(self, path: Path, data: Mapping[str, Any]) -> None:
        self.path = path
        self.data = data
        self.templates: dict[str, str] = {}
        self.computed: dict[str, str] = {}
        self.raw = ""

    def fail(self, keypath: str, message: str) -> LexiconError:
        return LexiconError(f"{self.path}: {keypath}: {message}")

    # -- shapes

    def section(self, name: str) -> Mapping[str, Any]:
        if name not in self.data:
            raise self.fail(name, "missing section")
        value = self.data[name]
        if not isinstance(value, Mapping):
            raise self.fail(name, "must be a mapping")
        return value

    def mapping(self, parent: Mapping[str, Any], key: str, keypath: str) -> Mapping[str, Any]:
        if key not in parent:
            raise self.fail(keypath, "missing")
        value = parent[key]
        if not isinstance(value, Mapping):
            raise self.fail(keypath, "must be a mapping")
        return value

    def strings(
        self, parent: Mapping[str, Any], key: str, keypath: str, *, required: bool = True
    ) -> list[str]:
        if key not in parent:
            if required:
                raise self.fail(keypath, "missing")
            return []
        value = parent[key]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise self.fail(keypath, "must be a string or a list of strings")
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item:
                raise self.fail(f"{keypath}[{index}]", "must be a non-empty string")
        if required and not value:
            raise self.fail(keypath, "must not be empty")
        return list(value)

    def number(self, value: Any, keypath: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(keypath, "must be a number")
        return float(value)

    def integer(self, parent: Mapping[str, Any], key: str, keypath: str) -> int:
        value = parent.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail(keypath, "must be a non-negative integer")
        return value

    def number_map(self, parent: Mapping[str, Any], key: str, keypath: str) -> dict[str, float]:
        raw = self.mapping(parent, key, keypath)
        result: dict[str, float] = {}
        for word, value in raw.items():
            if not isinstance(word, str) or not word.strip():
                raise self.fail(f"{keypath}.{word}", "must be a non-empty word")
            result[squash(word)] = self.number(value, f"{keypath}.{word}")
        return result

    # -- regexes

    def expand(self, pattern: str, keypath: str, depth: int = 0) -> str:
        if depth > 12:
            raise self.fail(keypath, "templates nest too deeply (a cycle?)")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in self.computed:
                return self.computed[name]
            if name in self.templates:
                return "(?:" + self.expand(self.templates[name], keypath, depth + 1) + ")"
            raise self.fail(keypath, f"unknown placeholder {{{name}}}")

        return _PLACEHOLDER.sub(replace, pattern)

    def compile(self, pattern: str, keypath: str) -> re.Pattern[str]:
        source = self.expand(pattern, keypath)
        try:
            return re.compile(source)
        except re.error as error:
            raise self.fail(keypath, f"invalid regex: {error}") from None

    def one_of(self, patterns: Sequence[str], keypath: str) -> re.Pattern[str]:
        """Join the patterns in one alternation and compile that.

        Only when it does not compile is each pattern compiled on its own, to name
        the bad one; compiling every pattern twice on the good path cost a quarter
        of start-up.
        """
        sources = [
            "(?:" + self.expand(pattern, f"{keypath}[{index}]") + ")"
            for index, pattern in enumerate(patterns)
        ]
        try:
            return re.compile("|".join(sources))
        except re.error as error:
            for index, pattern in enumerate(patterns):
                self.compile(pattern, f"{keypath}[{index}]")
            raise self.fail(keypath, f"invalid regex: {error}") from None

    def regexes(
        self, parent: Mapping[str, Any], key: str, keypath: str, *, required: bool = True
    ) -> re.Pattern[str] | None:
        patterns = self.strings(parent, key, keypath, required=required)
        return self.one_of(patterns, keypath) if patterns else None

    def regex(self, parent: Mapping[str, Any], key: str, keypath: str) -> re.Pattern[str]:
        compiled = self.regexes(parent, key, keypath)
        assert compiled is not None  # required=True never returns None
        return compiled

    def each(self, parent: Mapping[str, Any], key: str, keypath: str) -> tuple[re.Pattern[str], ...]:
        patterns = self.strings(parent, key, keypath)
        return tuple(self.compile(p, f"{keypath}[{i}]") for i, p in enumerate(patterns))


def load_lexicon(path: Path) -> Lexicon:
    """Load, validate and compile a lexicon file; raise `LexiconError` naming the key."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise LexiconError(f"{path}: cannot be read: {error}") from None
    try:
        data = yamlfile.safe_load(text)
    except yaml.YAMLError as error:
        raise LexiconError(f"{path}: invalid YAML: {error}") from None
    if not isinstance(data, Mapping):
        raise LexiconError(f"{path}: the top level must be a mapping of sections")
    builder = _Builder(path, data)
    builder.raw = text
    for name in _SECTIONS:
        builder.section(name)
    return _build(builder)


def _build(b: _Builder) -> Lexicon:
    language = b.data.get("language", b.path.stem)
    if not isinstance(language, str):
        raise b.fail("language", "must be a string")

    # numbers and computed placeholders
    numbers = b.section("numbers")
    words = b.number_map(numbers, "words", "numbers.words")
    tens = b.number_map(numbers, "tens", "numbers.tens")
    units = b.number_map(numbers, "units", "numbers.units")
    quantifiers = b.number_map(numbers, "quantifiers", "numbers.quantifiers")
    number_values: dict[str, float] = {**words, **tens, **quantifiers}
    for ten, ten_value in tens.items():
        for unit, unit_value in units.items():
            number_values[f"{ten} {unit}"] = ten_value + unit_value
    word_numbers = (
        f"(?:{alternation(list(tens))})(?:[\\s-]+(?:{alternation(list(units))}))?|{alternation(list(words))}"
    )
    number = rf"(?:(?<![\w.])\d+(?:\.\d+)?(?!\d)|(?<![\w'-])(?:{word_numbers})(?![\w']))"
    count = rf"(?:{number}|(?<![\w'-])(?:{alternation(list(quantifiers))})(?![\w']))"

    duration = b.section("duration")
    unit_section = b.mapping(duration, "units", "duration.units")
    unit_forms: list[str] = []
    unit_abbrevs: list[str] = []
    raw_units: list[tuple[float, list[str]]] = []
    for name, spec in unit_section.items():
        keypath = f"duration.units.{name}"
        if not isinstance(spec, Mapping):
            raise b.fail(keypath, "must be a mapping with weeks, forms and abbrev")
        weeks = b.number(spec.get("weeks"), f"{keypath}.weeks")
        forms = b.strings(spec, "forms", f"{keypath}.forms")
        abbrevs = b.strings(spec, "abbrev", f"{keypath}.abbrev", required=False)
        for index, form in enumerate(forms + abbrevs):
            b.compile(form, f"{keypath}.forms[{index}]")
        unit_forms.extend(forms)
        unit_abbrevs.extend(abbrevs)
        raw_units.append((weeks, forms + abbrevs))
    relative = b.number_map(duration, "relative", "duration.relative")
    since_only = b.number_map(duration, "relative_since_only", "duration.relative_since_only")
    vague = b.number_map(duration, "vague", "duration.vague")

    sex = b.section("sex")
    sex_words = b.mapping(sex, "words", "sex.words")
    sex_codes: dict[str, str] = {}
    for code in sex_words:
        if code not in SEXES:
            raise b.fail(f"sex.words.{code}", f"unknown sex code (not one of {', '.join(SEXES)})")
        for word in b.strings(sex_words, code, f"sex.words.{code}"):
            sex_codes[word.lower()] = code
    letters = b.mapping(sex, "letters", "sex.letters")
    letter_codes: dict[str, str] = {}
    for letter, code in letters.items():
        if code not in SEXES:
            raise b.fail(f"sex.letters.{letter}", f"unknown sex code {code!r}")
        letter_codes[str(letter).lower()] = str(code)

    calendar_section = b.mapping(duration, "calendar", "duration.calendar")
    months = b.mapping(duration, "months", "duration.months")
    month_numbers: dict[str, int] = {}
    for name, value in months.items():
        if not isinstance(value, int) or not 1 <= value <= 12:
            raise b.fail(f"duration.months.{name}", "must be a month number 1-12")
        month_numbers[squash(str(name))] = value
    calendar_days: dict[str, tuple[tuple[int, int], ...]] = {}
    for name, dates in calendar_section.items():
        keypath = f"duration.calendar.{name}"
        parsed: list[tuple[int, int]] = []
        for index, date in enumerate(dates if isinstance(dates, list) else [dates]):
            found = re.fullmatch(r"(\d\d)-(\d\d)", str(date))
            if found is None or not (1 <= int(found.group(1)) <= 12 and 1 <= int(found.group(2)) <= 31):
                raise b.fail(f"{keypath}[{index}]", "must be a day of the year as MM-DD")
            parsed.append((int(found.group(1)), int(found.group(2))))
        calendar_days[squash(str(name))] = tuple(parsed)
    for name, month in month_numbers.items():
        calendar_days.setdefault(name, ((month, 1),))

    patient = b.section("patient")
    relations = b.mapping(patient, "relations", "patient.relations")
    relation_sex: dict[str, str] = {}
    relation_words: list[str] = []
    for code in relations:
        if code not in (*SEXES, "any"):
            raise b.fail(f"patient.relations.{code}", f"must be one of {', '.join(SEXES)} or any")
        for word in b.strings(relations, code, f"patient.relations.{code}"):
            relation_words.append(word.lower())
            if code != "any":
                relation_sex[" ".join(word.lower().split())] = str(code)

    b.computed = {
        "calendar": f"(?:{alternation(list(calendar_days))})",
        "relation": f"(?:{alternation(relation_words)})",
        "number": number,
        "count": count,
        "unit": f"(?:{'|'.join(unit_forms)})",
        "unit_abbrev": f"(?:{'|'.join(unit_abbrevs) or '(?!)'})",
        "relative": f"(?:{alternation(list(relative))})",
        "relative_since": f"(?:{alternation([*relative, *since_only])})",
        "vague": f"(?:{alternation(list(vague))})",
        "sex_word": f"(?:{alternation(list(sex_codes))})",
        "sex_letter": f"(?:{alternation(list(letter_codes))})",
    }
    templates = b.section("templates")
    for name, template in templates.items():
        if name in _COMPUTED:
            raise b.fail(f"templates.{name}", "this name is built by the loader; choose another")
        if not isinstance(template, str):
            raise b.fail(f"templates.{name}", "must be a string")
        b.templates[str(name)] = template
    for name in b.templates:
        b.compile(b.templates[name], f"templates.{name}")

    time_units = tuple(
        TimeUnit(weeks, re.compile("(?:" + "|".join(forms) + r")\Z")) for weeks, forms in raw_units
    )
    relative_rules = tuple(
        (re.compile(alternation([phrase]) + r"\Z"), weeks)
        for phrase, weeks in {**relative, **since_only}.items()
    )

    # normalise
    normalise = b.section("normalise")
    rewrite_words = b.mapping(normalise, "words", "normalise.words")
    rewrites: dict[str, str] = {}
    for source, target in rewrite_words.items():
        keypath = f"normalise.words.{source}"
        if not isinstance(source, str) or not isinstance(target, str) or not source.strip():
            raise b.fail(keypath, "must map a word or phrase to its replacement")
        rewrites[" ".join(source.lower().split())] = target
    # Literal phrases, no leading assertion: the regex engine can then skip ahead
    # fast; whether a match starts a word is checked when replacing.
    rewrite = re.compile("(?:" + alternation(list(rewrites)) + r")(?![\w'])") if rewrites else None
    fold_letters = normalise.get("characters", {})
    if not isinstance(fold_letters, Mapping) or not all(
        isinstance(letter, str) and len(letter) == 1 and isinstance(target, str)
        for letter, target in fold_letters.items()
    ):
        raise b.fail("normalise.characters", "must map single letters to their typed spelling")
    fold = {ord(letter.lower()): target.lower() for letter, target in fold_letters.items()}

    clauses = b.section("clauses")
    negation = b.section("negation")
    change_flags = frozenset(b.strings(negation, "change_flags", "negation.change_flags", required=False))
    for index, key in enumerate(sorted(change_flags)):
        if key not in BOOLEAN_KEYS:
            raise b.fail(f"negation.change_flags[{index}]", f"unknown answer key {key!r}")

    context = b.section("context")
    fuzzy = b.section("fuzzy")
    spelling_words = tuple(squash(w) for w in b.strings(fuzzy, "words", "fuzzy.words"))
    spelling = Spelling(
        words=spelling_words,
        keep=frozenset(squash(w) for w in b.strings(fuzzy, "keep", "fuzzy.keep", required=False)),
        # regex escapes (\b, \w, \s) would glue letters onto words ("bcrohn"): drop them first
        known=frozenset(re.findall(r"[a-z\u00df-\u024f]{3,}", re.sub(r"\\+[a-zA-Z]", " ", b.raw.lower()))),
        min_length=b.integer(fuzzy, "min_length", "fuzzy.min_length"),
        min_score=b.number(fuzzy.get("min_score"), "fuzzy.min_score"),
    )
    pronoun_section = b.mapping(patient, "pronouns", "patient.pronouns")
    pronouns: dict[str, str] = {}
    for source, target in pronoun_section.items():
        if not isinstance(source, str) or not isinstance(target, str):
            raise b.fail(f"patient.pronouns.{source}", "must map a word to a word")
        pronouns[source.lower()] = target.lower()
    patient_words = PatientWords(
        proxy=b.each(patient, "proxy", "patient.proxy"),
        lead=b.each(patient, "lead", "patient.lead"),
        relation=b.compile("\\b(?:{relation})\\b", "patient.relations"),
        first_person=b.regex(patient, "first_person", "patient.first_person"),
        third_person=b.regex(patient, "third_person", "patient.third_person"),
        he=b.regex(patient, "he", "patient.he"),
        she=b.regex(patient, "she", "patient.she"),
        relation_sex=relation_sex,
        pronouns=re.compile(r"(?<![\w'])(?:" + alternation(list(pronouns)) + r")(?![\w'])")
        if pronouns
        else None,
        pronoun_targets=pronouns,
        others_owners=frozenset(
            w.lower() for w in b.strings(patient, "others_owners", "patient.others_owners")
        ),
        age_patterns=b.each(patient, "age", "patient.age"),
    )
    for name, patterns in (("proxy", patient_words.proxy), ("lead", patient_words.lead)):
        for index, pattern in enumerate(patterns):
            if "who" not in pattern.groupindex:
                raise b.fail(f"patient.{name}[{index}]", "must capture the relation in a group named who")
    for index, pattern in enumerate(patient_words.age_patterns):
        if not {"n", "decade", "year"} & set(pattern.groupindex):
            raise b.fail(
                f"patient.age[{index}]", "must capture the number in a group named n (or decade, year)"
            )
    present = b.each(duration, "present", "duration.present")
    for index, pattern in enumerate(present):
        if "month" not in pattern.groupindex:
            raise b.fail(f"duration.present[{index}]", "must capture the month in a group named month")
    calendar = Calendar(days=calendar_days, present=present, months=month_numbers)
    past_counts, resolved_counts = _key_lists(b)
    age_words = b.number_map(b.section("age"), "words", "age.words")
    age_decades = {
        squash(k): int(v) for k, v in b.number_map(b.section("age"), "decades", "age.decades").items()
    }
    age_modifiers = {
        squash(k): int(v) for k, v in b.number_map(b.section("age"), "modifiers", "age.modifiers").items()
    }

    flags, dispatch = _build_flags(b)
    areas, area_answers = _build_areas(b)
    symptoms = b.section("symptoms")
    yes_no = _build_yes_no(b)

    duration_patterns: list[tuple[str, re.Pattern[str]]] = []
    kinds = b.mapping(duration, "patterns", "duration.patterns")
    for kind in kinds:
        if kind not in _DURATION_KINDS:
            raise b.fail(f"duration.patterns.{kind}", f"unknown kind (one of {', '.join(_DURATION_KINDS)})")
    for kind in _DURATION_KINDS:
        for pattern in b.each(kinds, kind, f"duration.patterns.{kind}"):
            duration_patterns.append((kind, pattern))

    pain_score = b.section("pain_score")
    age = b.section("age")
    answers = b.section("answers")
    for keypath, patterns in (
        ("pain_score.patterns", b.each(pain_score, "patterns", "pain_score.patterns")),
        ("answers.pain_score", b.each(answers, "pain_score", "answers.pain_score")),
        ("age.patterns", b.each(age, "patterns", "age.patterns")),
        ("answers.age", b.each(answers, "age", "answers.age")),
    ):
        for index, pattern in enumerate(patterns):
            if not {"n", "decade", "year", "year2", "school", "nearly"} & set(pattern.groupindex):
                raise b.fail(
                    f"{keypath}[{index}]",
                    "must capture the number in a group named n (or decade, year, year2, school, nearly)",
                )
    sex_patterns = b.each(sex, "patterns", "sex.patterns")
    for index, pattern in enumerate(sex_patterns):
        if "sex" not in pattern.groupindex:
            raise b.fail(f"sex.patterns[{index}]", "must capture the word in a group named sex")
    answer_duration = b.each(answers, "duration", "answers.duration")
    for index, pattern in enumerate(answer_duration):
        if "unit" not in pattern.groupindex:
            raise b.fail(f"answers.duration[{index}]", "must capture the unit in a group named unit")

    return Lexicon(
        source=str(b.path),
        language=language,
        rewrite=rewrite,
        rewrites=rewrites,
        fold=fold,
        number_values=number_values,
        sentence_end=b.regex(clauses, "sentence_end", "clauses.sentence_end"),
        contrast=b.regex(clauses, "contrast", "clauses.contrast"),
        clause_break=b.regex(clauses, "clause_break", "clauses.clause_break"),
        neg_pre=b.regex(negation, "pre", "negation.pre"),
        neg_pseudo=b.regex(negation, "pseudo", "negation.pseudo"),
        scope_break=b.regex(negation, "scope_break", "negation.scope_break"),
        weak_break=b.regex(negation, "weak_break", "negation.weak_break"),
        verbs=b.regex(negation, "verbs", "negation.verbs"),
        neg_post=b.regex(negation, "post", "negation.post"),
        neg_post_change=b.regexes(negation, "post_change", "negation.post_change", required=False),
        change_flags=change_flags,
        neg_post_immediate=b.regex(negation, "post_immediate", "negation.post_immediate"),
        post_blockers=b.regex(negation, "post_blockers", "negation.post_blockers"),
        other_person=b.regex(negation, "other_person", "negation.other_person"),
        other_person_blockers=b.regex(negation, "other_person_blockers", "negation.other_person_blockers"),
        other_person_post=b.regex(negation, "other_person_post", "negation.other_person_post"),
        hypothetical=b.regex(negation, "hypothetical", "negation.hypothetical"),
        hypothetical_post=b.regex(negation, "hypothetical_post", "negation.hypothetical_post"),
        max_gap_words=b.integer(negation, "max_gap_words", "negation.max_gap_words"),
        max_post_gap_words=b.integer(negation, "max_post_gap_words", "negation.max_post_gap_words"),
        uncertain_pre=b.regex(context, "uncertain_pre", "context.uncertain_pre"),
        uncertain_post=b.regex(context, "uncertain_post", "context.uncertain_post"),
        past_pre=b.regex(context, "past_pre", "context.past_pre"),
        vague_past=b.regex(context, "vague_past", "context.vague_past"),
        past_post=b.regex(context, "past_post", "context.past_post"),
        question_cue=b.regex(context, "question", "context.question"),
        answer_no=b.regex(context, "answer_no", "context.answer_no"),
        answer_yes=b.regex(context, "answer_yes", "context.answer_yes"),
        answer_max_words=b.integer(context, "answer_max_words", "context.answer_max_words"),
        context_gap_words=b.integer(context, "max_gap_words", "context.max_gap_words"),
        resolved_post=b.regex(context, "resolved_post", "context.resolved_post"),
        ongoing=b.regex(context, "ongoing", "context.ongoing"),
        past_counts=past_counts,
        resolved_counts=resolved_counts,
        patient=patient_words,
        spelling=spelling,
        calendar=calendar,
        episode=b.regex(duration, "episode", "duration.episode"),
        unrelated=b.each(duration, "unrelated", "duration.unrelated"),
        flags=flags,
        dispatch=dispatch,
        areas=areas,
        area_answers=area_answers,
        pain_words=b.regex(symptoms, "pain", "symptoms.pain"),
        other_symptoms=b.regex(symptoms, "other", "symptoms.other"),
        radiation=b.regex(symptoms, "radiation", "symptoms.radiation"),
        radiation_source=b.regex(symptoms, "radiation_source", "symptoms.radiation_source"),
        diagnosis=b.regex(symptoms, "diagnosis", "symptoms.diagnosis"),
        link_words=b.regex(symptoms, "link", "symptoms.link"),
        units=time_units,
        relative=relative_rules,
        vague=vague,
        duration_patterns=tuple(duration_patterns),
        time_words=re.compile(
            "|".join(
                [
                    b.computed["unit"],
                    b.computed["relative_since"],
                    b.computed["vague"],
                    b.computed["calendar"],
                    r"\d",
                ]
                + [f"(?:{p.pattern})" for kind, p in duration_patterns if kind == "since_then"]
            )
        ),
        onset=b.regex(duration, "onset", "duration.onset"),
        pain_patterns=b.each(pain_score, "patterns", "pain_score.patterns"),
        now_cue=b.regex(pain_score, "now_cue", "pain_score.now_cue"),
        age_patterns=b.each(age, "patterns", "age.patterns"),
        age_decades=age_decades,
        age_modifiers=age_modifiers,
        age_school_offset=b.integer(b.section("age"), "school_offset", "age.school_offset"),
        age_words=re.compile(r"\b(?:" + alternation(list(age_words)) + r")\b") if age_words else None,
        age_word_values={k: int(v) for k, v in age_words.items()},
        sex_patterns=sex_patterns,
        sex_codes={**sex_codes, **letter_codes},
        yes_no=yes_no,
        answer_pain=b.each(answers, "pain_score", "answers.pain_score"),
        answer_age=b.each(answers, "age", "answers.age"),
        answer_duration=answer_duration,
        answer_options=_answer_options(b, answers),
    )


KEYS_FILE: Final[str] = "keys.yaml"
"""Beside the lexicons: how readings count per answer key, the same in every language."""


def _key_lists(b: _Builder) -> tuple[frozenset[str], frozenset[str]]:
    path = b.path.parent / KEYS_FILE
    try:
        data = yamlfile.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise LexiconError(f"{path}: cannot be read: {error}") from None
    except yaml.YAMLError as error:
        raise LexiconError(f"{path}: invalid YAML: {error}") from None
    lists: list[frozenset[str]] = []
    for name in ("past_still_counts", "resolved_still_counts"):
        keys = data.get(name) if isinstance(data, Mapping) else None
        if not isinstance(keys, list):
            raise LexiconError(f"{path}: {name}: must be a list of answer keys")
        for index, key in enumerate(keys):
            if key not in BOOLEAN_KEYS:
                raise LexiconError(f"{path}: {name}[{index}]: unknown answer key {key!r}")
        lists.append(frozenset(keys))
    return lists[0], lists[1]


def _answer_options(
    b: _Builder, answers: Mapping[str, Any]
) -> dict[str, tuple[tuple[str, re.Pattern[str]], ...]]:
    options = b.mapping(answers, "options", "answers.options")
    built: dict[str, tuple[tuple[str, re.Pattern[str]], ...]] = {}
    for question_id, per_option in options.items():
        where = f"answers.options.{question_id}"
        if not isinstance(per_option, Mapping):
            raise b.fail(where, "must map option ids to lists of phrases")
        built[str(question_id)] = tuple(
            (str(option_id), b.regex(per_option, option_id, f"{where}.{option_id}"))
            for option_id in per_option
        )
    return built


def _contextual(
    b: _Builder, spec: Mapping[str, Any], keypath: str
) -> tuple[tuple[re.Pattern[str], re.Pattern[str]], ...]:
    groups = spec.get("contextual", [])
    if not isinstance(groups, list):
        raise b.fail(f"{keypath}.contextual", "must be a list of {context, patterns}")
    built: list[tuple[re.Pattern[str], re.Pattern[str]]] = []
    for index, group in enumerate(groups):
        where = f"{keypath}.contextual[{index}]"
        if not isinstance(group, Mapping) or set(group) != {"context", "patterns"}:
            raise b.fail(where, "must have exactly context and patterns")
        built.append(
            (b.regex(group, "context", f"{where}.context"), b.regex(group, "patterns", f"{where}.patterns"))
        )
    return tuple(built)


def _build_flags(
    b: _Builder,
) -> tuple[tuple[FlagRule, ...], dict[str, tuple[tuple[int, re.Pattern[str]], ...]]]:
    section = b.section("flags")
    for key in section:
        if key not in BOOLEAN_KEYS:
            raise b.fail(f"flags.{key}", "unknown answer key (not in answers.BOOLEAN_KEYS)")
    rules: list[FlagRule] = []
    dispatch: dict[str, list[tuple[int, re.Pattern[str]]]] = {}
    for flag_index, key in enumerate(BOOLEAN_KEYS):
        keypath = f"flags.{key}"
        spec = b.mapping(section, key, keypath)
        for name in spec:
            if name not in _FLAG_FIELDS:
                raise b.fail(f"{keypath}.{name}", f"unknown field (one of {', '.join(sorted(_FLAG_FIELDS))})")
        patterns = b.each(spec, "patterns", f"{keypath}.patterns")
        residual: list[str] = []
        for compiled in patterns:
            literals = leading_literals(compiled.pattern)
            if literals is None:
                residual.append(f"(?:{compiled.pattern})")
                continue
            for literal in literals:
                entries = dispatch.setdefault(literal[:3], [])
                if (flag_index, compiled) not in entries:
                    entries.append((flag_index, compiled))
        rules.append(
            FlagRule(
                key=key,
                patterns=patterns,
                residual=re.compile("|".join(residual)) if residual else None,
                exceptions=b.regexes(spec, "except", f"{keypath}.except", required=False),
                negative=b.regexes(spec, "negative", f"{keypath}.negative", required=False),
                context=b.regexes(spec, "context", f"{keypath}.context", required=False),
                lasting=b.regexes(spec, "lasting", f"{keypath}.lasting", required=False),
                contextual=_contextual(b, spec, keypath),
            )
        )
    return tuple(rules), {key: tuple(entries) for key, entries in dispatch.items()}


def _build_areas(b: _Builder) -> tuple[re.Pattern[str], re.Pattern[str]]:
    section = b.section("areas")
    for key in section:
        if key not in AREAS:
            raise b.fail(f"areas.{key}", f"unknown area (one of {', '.join(AREAS)})")
    narrative: list[str] = []
    answer: list[str] = []
    for key in AREAS:
        keypath = f"areas.{key}"
        spec = b.mapping(section, key, keypath)
        patterns = b.strings(spec, "patterns", f"{keypath}.patterns")
        extra = b.strings(spec, "answer_words", f"{keypath}.answer_words", required=False)
        for index, pattern in enumerate(patterns):
            b.compile(pattern, f"{keypath}.patterns[{index}]")
        for index, pattern in enumerate(extra):
            b.compile(pattern, f"{keypath}.answer_words[{index}]")
        body = "|".join(f"(?:{b.expand(p, keypath)})" for p in patterns)
        narrative.append(f"(?P<{key}>{body})")
        answer.append(f"(?P<{key}>{body}{''.join('|(?:' + b.expand(p, keypath) + ')' for p in extra)})")
    try:
        return re.compile("|".join(narrative)), re.compile("|".join(answer))
    except re.error as error:
        raise b.fail("areas", f"invalid regex: {error}") from None


def _build_yes_no(b: _Builder) -> YesNo:
    section = b.section("yes_no")

    def phrases(key: str, sub: str) -> tuple[str, ...]:
        node = b.mapping(section, key, f"yes_no.{key}")
        return tuple(squash(p) for p in b.strings(node, sub, f"yes_no.{key}.{sub}", required=False))

    return YesNo(
        unsure=tuple(squash(p) for p in b.strings(section, "unsure", "yes_no.unsure")),
        yes_weak=phrases("yes", "weak"),
        yes_leading=phrases("yes", "leading"),
        yes_whole=phrases("yes", "whole"),
        no_leading=phrases("no", "leading"),
        no_whole=phrases("no", "whole"),
    )
