"""Free-text understanding: what a person's own words say about the answer keys.

The mechanism lives here; every word and regular expression of a language lives
in `content/understanding/<lang>.yaml` (see the header comment of `en.yaml`).

`understand()` reads a message such as "I'm 47, no fever, but since this
morning I can't pee" and returns `Findings`: the boolean answer keys it affirms
or explicitly negates, the painful areas and where the pain spreads, how long it
has lasted, the pain score, the age and the sex.

How a message is read:

1. Normalise: NFKC, typographic apostrophes/quotes/dashes unified, control and
   zero-width characters removed, lower case, whitespace collapsed, and the
   lexicon's word rewrites applied ("cannot" -> "can't"). Only the first
   `MAX_CHARS` characters are read, so work is bounded.
2. Sentences end at . ! ? ; and new lines. Patterns never reach across them.
3. Every flag pattern is searched for. A match is dropped when it overlaps one of
   the flag's `except` patterns, when its sentence lacks the flag's `context`,
   when a relative is its subject ("my mum had cancer") or when it is
   hypothetical ("in case I get a fever").
4. Negation, NegEx-style: a pre-negation cue ("no", "not", "haven't", ...)
   negates a finding after it unless the scope is closed first by a contrastive
   word ("but", "although", ...), a conjunction or comma that starts a new
   statement ("..., and I can't pee"), or more than a few words. A
   post-negation cue ("... is fine", "... haven't changed") negates the finding
   it follows when the finding is the subject of that statement. Phrases that
   look like negation but are not ("no better", "nothing helps") are ignored.
5. A flag affirmed anywhere is True even if also negated elsewhere: missing a
   red flag is worse than a false one.

Areas count as painful when the nearest symptom word in their clause is a pain
word; after a radiation verb ("spreads", "shoots down") they count as where the
pain spreads. The duration prefers a phrase tied to the pain ("for about three
weeks I've had an ache", "since then it has hurt") over unrelated times ("my
daughter was born seven weeks ago").
"""

from __future__ import annotations

import bisect
import math
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from bot.core import yamlfile
from bot.core.answers import AREAS, BOOLEAN_KEYS, SEXES

MAX_CHARS: Final[int] = 6000
"""Only this many characters of a message are read."""

_LOOKBACK: Final[int] = 240
"""How far back (characters) a negation, relative or hypothetical cue is sought."""

_MAX_OTHER_PERSON_GAP: Final[int] = 10
_MAX_MENTIONS: Final[int] = 64
"""Mentions of one key examined per message: enough for any real message, and a
bound on the work for pathological input ("no numb no numb ...")."""
_MIN_DURATION_WEEKS: Final[float] = 0.01
_MAX_DURATION_WEEKS: Final[float] = 5200.0  # the contract's bound for duration_weeks

_PLACEHOLDER: Final = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_WORD: Final = re.compile(r"[\w']+")
_CONTROL: Final = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u061c\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2069\ufeff\ufff9-\ufffb]"
)
_SPACES: Final = re.compile(r"[^\S\n]+")
_NEWLINES: Final = re.compile(r"\s*\n\s*")
_TRANSLATE: Final = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u02bc": "'",
        "\u00b4": "'",
        "\u0060": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\r": "\n",
        "\t": " ",
    }
)
_EDGE_PUNCTUATION: Final = re.compile(r"^[\s\"'(\[{.,;:!?*_~-]+|[\s\"')\]}.,;:!?*_~]+$")

_DURATION_KINDS: Final[tuple[str, ...]] = ("for", "ago", "since", "event", "since_then", "bare")
_ANCHOR_KINDS: Final[frozenset[str]] = frozenset({"ago", "event", "since"})
_LINKED_KINDS: Final[frozenset[str]] = frozenset({"for", "ago", "since", "event", "since_then"})
_COMPUTED: Final[tuple[str, ...]] = (
    "count",
    "number",
    "unit",
    "unit_abbrev",
    "relative",
    "relative_since",
    "vague",
    "sex_word",
    "sex_letter",
)
_SECTIONS: Final[tuple[str, ...]] = (
    "normalise",
    "templates",
    "numbers",
    "clauses",
    "negation",
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
_FLAG_FIELDS: Final[frozenset[str]] = frozenset({"patterns", "except", "negative", "context"})


class LexiconError(ValueError):
    """A lexicon file is missing, malformed or invalid; the message names file and key."""


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Findings:
    """What a message says, in the vocabulary of the answer contract."""

    flags: dict[str, bool] = field(default_factory=dict)
    pain_location: tuple[str, ...] = ()
    radiates_to: tuple[str, ...] = ()
    duration_weeks: float | None = None
    pain_now: int | None = None
    age: int | None = None
    sex: str | None = None

    def answers(self) -> dict[str, object]:
        """The findings as contract answers: only what was found."""
        result: dict[str, object] = dict(self.flags)
        if self.pain_location:
            result["pain_location"] = list(self.pain_location)
        if self.radiates_to:
            result["radiates_to"] = list(self.radiates_to)
        if self.duration_weeks is not None:
            result["duration_weeks"] = self.duration_weeks
        if self.pain_now is not None:
            result["pain_now"] = self.pain_now
        if self.age is not None:
            result["age"] = self.age
        if self.sex is not None:
            result["sex"] = self.sex
        return result


# --------------------------------------------------------------------------- lexicon


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


@dataclass(frozen=True)
class TimeUnit:
    """A unit of time and the forms that name it."""

    weeks: float
    forms: re.Pattern[str]


@dataclass(frozen=True)
class YesNo:
    """Short answers to a yes/no question."""

    unsure: tuple[str, ...]
    yes_leading: tuple[str, ...]
    yes_whole: tuple[str, ...]
    no_leading: tuple[str, ...]
    no_whole: tuple[str, ...]


@dataclass(frozen=True)
class Lexicon:
    """Compiled patterns of one language, loaded by `load_lexicon`."""

    source: str
    language: str
    rewrite: re.Pattern[str] | None
    rewrites: Mapping[str, str]
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
    hypothetical: re.Pattern[str]
    max_gap_words: int
    max_post_gap_words: int
    flags: tuple[FlagRule, ...]
    dispatch: Mapping[str, tuple[tuple[int, re.Pattern[str]], ...]]
    areas: re.Pattern[str]
    area_answers: re.Pattern[str]
    pain_words: re.Pattern[str]
    other_symptoms: re.Pattern[str]
    radiation: re.Pattern[str]
    radiation_source: re.Pattern[str]
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
    sex_patterns: tuple[re.Pattern[str], ...]
    sex_codes: Mapping[str, str]
    yes_no: YesNo
    answer_pain: tuple[re.Pattern[str], ...]
    answer_age: tuple[re.Pattern[str], ...]
    answer_duration: tuple[re.Pattern[str], ...]


class _Builder:
    """Reads and validates one lexicon file, naming the key path of every problem."""

    def __init__(self, path: Path, data: Mapping[str, Any]) -> None:
        self.path = path
        self.data = data
        self.templates: dict[str, str] = {}
        self.computed: dict[str, str] = {}

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
            result[_squash(word)] = self.number(value, f"{keypath}.{word}")
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


_META: Final[str] = "\\.^$*+?{}[]|()"


def _skip_class(source: str, i: int) -> int:
    """Index just after the character class that starts at source[i] == '['."""
    i += 1
    if i < len(source) and source[i] == "^":
        i += 1
    if i < len(source) and source[i] == "]":
        i += 1
    while i < len(source) and source[i] != "]":
        i += 2 if source[i] == "\\" else 1
    return i + 1


def _skip_group(source: str, i: int) -> int:
    """Index just after the group that starts at source[i] == '('."""
    depth = 0
    while i < len(source):
        char = source[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":
            i = _skip_class(source, i)
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError("unbalanced group")


def _alternatives(source: str, i: int) -> tuple[list[int], int]:
    """Start indexes of the alternatives from i to the closing ')' or the end."""
    starts = [i]
    while i < len(source):
        char = source[i]
        if char == "\\":
            i += 2
        elif char == "[":
            i = _skip_class(source, i)
        elif char == "(":
            i = _skip_group(source, i)
        elif char == ")":
            return starts, i
        elif char == "|":
            i += 1
            starts.append(i)
        else:
            i += 1
    return starts, i


def _quantifier_end(source: str, i: int) -> tuple[int, bool]:
    """Skip a quantifier at source[i]; return the index after it and whether it allows zero."""
    if i >= len(source):
        return i, False
    char = source[i]
    if char in "?*+":
        end = i + 1
        if end < len(source) and source[end] in "?+":
            end += 1  # lazy or possessive
        return end, char != "+"
    if char == "{":
        close = source.find("}", i)
        body = source[i + 1 : close] if close > 0 else ""
        if close > 0 and re.fullmatch(r"\d*(?:,\d*)?", body) and body:
            end = close + 1
            if end < len(source) and source[end] == "?":
                end += 1
            return end, body.split(",")[0] in ("", "0")
    return i, False


def _lead(source: str, i: int) -> set[str] | None:
    """Literal texts one of which starts every match of the sequence at source[i:]."""
    while source.startswith(("\\b", "(?=", "(?!", "(?<=", "(?<!"), i):
        i = i + 2 if source[i] == "\\" else _skip_group(source, i)
    if i >= len(source) or source[i] in "|)":
        return None
    if source[i] == "(":
        end = _skip_group(source, i)
        if _quantifier_end(source, end)[1]:
            return None
        inner = i + 1
        if source.startswith("?:", inner):
            inner += 2
        elif source.startswith("?P<", inner):
            inner = source.index(">", inner) + 1
        elif source.startswith("?", inner):
            return None
        found: set[str] = set()
        for start in _alternatives(source, inner)[0]:
            literals = _lead(source, start)
            if literals is None:
                return None
            found |= literals
        return found
    literal = ""
    while i < len(source) and source[i] not in _META:
        if _quantifier_end(source, i + 1)[1]:
            break  # this character is optional
        literal += source[i]
        i += 1
    return {literal} if literal else None


def _leading_literals(source: str) -> set[str] | None:
    """For a pattern that starts with \\b and plain text: the texts a match can start with.

    Conservative: None whenever that cannot be read off the pattern for certain; such
    patterns are searched in full instead of from the word-start index.
    """
    if not source.startswith("\\b"):
        return None
    try:
        found = _lead(source, 0)
    except (ValueError, IndexError):
        return None
    if not found or any(len(text) < 2 or not re.match(r"\w", text) for text in found):
        return None
    return found


def _squash(text: str) -> str:
    return " ".join(text.lower().replace("-", " ").split())


def _alternation(words: Sequence[str]) -> str:
    ordered = sorted(set(words), key=lambda word: (-len(word), word))
    return "|".join(r"\s+".join(re.escape(part) for part in word.split()) for word in ordered)


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
        f"(?:{_alternation(list(tens))})(?:[\\s-]+(?:{_alternation(list(units))}))?"
        f"|{_alternation(list(words))}"
    )
    number = rf"(?:(?<![\w.])\d+(?:\.\d+)?(?!\d)|(?<![\w'-])(?:{word_numbers})(?![\w']))"
    count = rf"(?:{number}|(?<![\w'-])(?:{_alternation(list(quantifiers))})(?![\w']))"

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

    b.computed = {
        "number": number,
        "count": count,
        "unit": f"(?:{'|'.join(unit_forms)})",
        "unit_abbrev": f"(?:{'|'.join(unit_abbrevs) or '(?!)'})",
        "relative": f"(?:{_alternation(list(relative))})",
        "relative_since": f"(?:{_alternation([*relative, *since_only])})",
        "vague": f"(?:{_alternation(list(vague))})",
        "sex_word": f"(?:{_alternation(list(sex_codes))})",
        "sex_letter": f"(?:{_alternation(list(letter_codes))})",
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
        (re.compile(_alternation([phrase]) + r"\Z"), weeks)
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
    rewrite = re.compile("(?:" + _alternation(list(rewrites)) + r")(?![\w'])") if rewrites else None

    clauses = b.section("clauses")
    negation = b.section("negation")
    change_flags = frozenset(b.strings(negation, "change_flags", "negation.change_flags", required=False))
    for index, key in enumerate(sorted(change_flags)):
        if key not in BOOLEAN_KEYS:
            raise b.fail(f"negation.change_flags[{index}]", f"unknown answer key {key!r}")

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
            if "n" not in pattern.groupindex:
                raise b.fail(f"{keypath}[{index}]", "must capture the number in a group named n")
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
        hypothetical=b.regex(negation, "hypothetical", "negation.hypothetical"),
        max_gap_words=b.integer(negation, "max_gap_words", "negation.max_gap_words"),
        max_post_gap_words=b.integer(negation, "max_post_gap_words", "negation.max_post_gap_words"),
        flags=flags,
        dispatch=dispatch,
        areas=areas,
        area_answers=area_answers,
        pain_words=b.regex(symptoms, "pain", "symptoms.pain"),
        other_symptoms=b.regex(symptoms, "other", "symptoms.other"),
        radiation=b.regex(symptoms, "radiation", "symptoms.radiation"),
        radiation_source=b.regex(symptoms, "radiation_source", "symptoms.radiation_source"),
        link_words=b.regex(symptoms, "link", "symptoms.link"),
        units=time_units,
        relative=relative_rules,
        vague=vague,
        duration_patterns=tuple(duration_patterns),
        time_words=re.compile(
            "|".join(
                [b.computed["unit"], b.computed["relative_since"], b.computed["vague"], r"\d"]
                + [f"(?:{p.pattern})" for kind, p in duration_patterns if kind == "since_then"]
            )
        ),
        onset=b.regex(duration, "onset", "duration.onset"),
        pain_patterns=b.each(pain_score, "patterns", "pain_score.patterns"),
        now_cue=b.regex(pain_score, "now_cue", "pain_score.now_cue"),
        age_patterns=b.each(age, "patterns", "age.patterns"),
        sex_patterns=sex_patterns,
        sex_codes={**sex_codes, **letter_codes},
        yes_no=yes_no,
        answer_pain=b.each(answers, "pain_score", "answers.pain_score"),
        answer_age=b.each(answers, "age", "answers.age"),
        answer_duration=answer_duration,
    )


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
            literals = _leading_literals(compiled.pattern)
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
        return tuple(_squash(p) for p in b.strings(node, sub, f"yes_no.{key}.{sub}", required=False))

    return YesNo(
        unsure=tuple(_squash(p) for p in b.strings(section, "unsure", "yes_no.unsure")),
        yes_leading=phrases("yes", "leading"),
        yes_whole=phrases("yes", "whole"),
        no_leading=phrases("no", "leading"),
        no_whole=phrases("no", "whole"),
    )


# --------------------------------------------------------------------------- text


@dataclass(frozen=True)
class _Span:
    start: int
    end: int


@dataclass(frozen=True)
class _Doc:
    """A normalised message split into sentences."""

    text: str
    sentences: tuple[_Span, ...]
    starts: tuple[int, ...]

    def sentence_at(self, position: int) -> _Span:
        index = max(0, bisect.bisect_right(self.starts, position) - 1)
        return self.sentences[index]


def normalise(text: str, lexicon: Lexicon) -> str:
    """Lower-case, unified, cleaned text as the patterns expect it."""
    text = text[:MAX_CHARS]
    text = unicodedata.normalize("NFKC", text).translate(_TRANSLATE)
    text = _CONTROL.sub("", text).lower()
    text = _SPACES.sub(" ", text)
    text = _NEWLINES.sub("\n", text).strip()
    if lexicon.rewrite is not None:
        rewrite = lexicon.rewrite
        targets = lexicon.rewrites

        def replace(match: re.Match[str]) -> str:
            start = match.start()
            if start and (text[start - 1].isalnum() or text[start - 1] in "_'"):
                return match.group(0)  # inside a word
            return targets.get(" ".join(match.group(0).split()), match.group(0))

        text = rewrite.sub(replace, text)
    return text


def _document(text: str, lexicon: Lexicon) -> _Doc:
    clean = normalise(text, lexicon)
    spans: list[_Span] = []
    position = 0
    for end in lexicon.sentence_end.finditer(clean):
        if end.start() > position:
            spans.append(_Span(position, end.start()))
        position = end.end()
    if position < len(clean) or not spans:
        spans.append(_Span(position, len(clean)))
    return _Doc(clean, tuple(spans), tuple(span.start for span in spans))


def _words(text: str) -> int:
    return len(_WORD.findall(text))


def _last(pattern: re.Pattern[str], text: str, start: int, end: int) -> re.Match[str] | None:
    found = None
    for found in pattern.finditer(text, start, end):  # noqa: B007 - the last one is wanted
        pass
    return found


def _scope_start(doc: _Doc, lexicon: Lexicon, sentence: _Span, position: int) -> int:
    """Where the statement holding `position` begins: after the last contrastive word."""
    low = max(sentence.start, position - _LOOKBACK)
    contrast = _last(lexicon.contrast, doc.text, low, position)
    return contrast.end() if contrast else low


def _breaks_between(doc: _Doc, lexicon: Lexicon, start: int, match: re.Match[str]) -> bool:
    """Does a new statement begin between `start` and the match (", and I ...")?"""
    text = doc.text
    found = lexicon.scope_break.search(text, start, match.end())
    if found is not None and found.start() < match.start():
        return True
    # "..., and my <noun>" is a new statement only if a verb follows the noun
    horizon = min(doc.sentence_at(match.start()).end, match.end() + 30)
    for weak in lexicon.weak_break.finditer(text, start, match.end()):
        if weak.start() >= match.start():
            break
        if lexicon.verbs.search(text, weak.end(), horizon):
            return True
    return False


def _pre_negated(doc: _Doc, lexicon: Lexicon, sentence: _Span, match: re.Match[str]) -> bool:
    low = _scope_start(doc, lexicon, sentence, match.start())
    high = min(sentence.end, match.end() + _LOOKBACK)
    pseudo = [m.span() for m in lexicon.neg_pseudo.finditer(doc.text, low, high)]
    cue: re.Match[str] | None = None
    for candidate in lexicon.neg_pre.finditer(doc.text, low, match.start()):
        if not any(s <= candidate.start() < e for s, e in pseudo):
            cue = candidate
    if cue is None:
        return False
    if _words(doc.text[cue.end() : match.start()]) > lexicon.max_gap_words:
        return False
    return not _breaks_between(doc, lexicon, cue.end(), match)


def _post_negated(doc: _Doc, lexicon: Lexicon, sentence: _Span, match: re.Match[str], rule: FlagRule) -> bool:
    text = doc.text
    # The finding must be the subject of the statement the cue closes: nothing
    # like "I have a ..." before it in its clause.
    low = _scope_start(doc, lexicon, sentence, match.start())
    clause = max(
        (
            found.start()
            for pattern in (lexicon.scope_break, lexicon.weak_break)
            if (found := _last(pattern, text, low, match.start())) is not None
        ),
        default=low,
    )
    prefix = text[clause : match.start()]
    if lexicon.post_blockers.search(prefix):
        return False
    end = min(sentence.end, match.end() + _LOOKBACK)
    contrast = lexicon.contrast.search(text, match.end(), end)
    if contrast:
        end = contrast.start()
    after = text[match.end() : end]
    if lexicon.neg_post_immediate.match(after):
        return True
    if not after.strip() and end == sentence.end and lexicon.neg_post_immediate.match(text[end : end + 16]):
        return True  # "Numbness? No."
    cues = [lexicon.neg_post]
    if rule.key in lexicon.change_flags and lexicon.neg_post_change is not None:
        cues.append(lexicon.neg_post_change)
    for cue_pattern in cues:
        cue = cue_pattern.search(after)
        if cue is None:
            continue
        gap = after[: cue.start()]
        if _words(gap) > lexicon.max_post_gap_words or lexicon.post_blockers.search(gap):
            continue
        broken = lexicon.scope_break.search(after, 0, cue.end())
        if broken is not None and broken.start() < cue.start():
            continue
        if _other_subject(lexicon, rule, text, match.end(), match.end() + cue.start(), end):
            continue
        return True
    return False


def _other_subject(lexicon: Lexicon, rule: FlagRule, text: str, start: int, stop: int, end: int) -> bool:
    """Does "and my <noun>" between start and stop name something other than this key?

    "my bladder and my bowels are fine" negates both; in "numbness in my foot and
    my bladder is fine" the cue belongs to the bladder, not to the numbness.
    """
    for weak in lexicon.weak_break.finditer(text, start, stop):
        noun = weak.end() + len(text[weak.end() : stop]) - len(text[weak.end() : stop].lstrip())
        if not any(p.match(text, noun, end) for p in rule.patterns):
            return True
    return False


def _cue_applies(
    doc: _Doc,
    lexicon: Lexicon,
    sentence: _Span,
    match: re.Match[str],
    pattern: re.Pattern[str],
    max_words: int,
    blockers: re.Pattern[str] | None = None,
) -> bool:
    low = _scope_start(doc, lexicon, sentence, match.start())
    cue = _last(pattern, doc.text, low, match.start())
    if cue is None:
        return False
    gap = doc.text[cue.end() : match.start()]
    if _words(gap) > max_words or (blockers is not None and blockers.search(gap)):
        return False
    return not _breaks_between(doc, lexicon, cue.end(), match)


def _other_person(doc: _Doc, lexicon: Lexicon, sentence: _Span, match: re.Match[str]) -> bool:
    return _cue_applies(
        doc,
        lexicon,
        sentence,
        match,
        lexicon.other_person,
        _MAX_OTHER_PERSON_GAP,
        lexicon.other_person_blockers,
    )


def _hypothetical(doc: _Doc, lexicon: Lexicon, sentence: _Span, match: re.Match[str]) -> bool:
    return _cue_applies(doc, lexicon, sentence, match, lexicon.hypothetical, lexicon.max_gap_words)


_WORD_START: Final = re.compile(r"\b\w")


def _flag_mentions(doc: _Doc, lexicon: Lexicon) -> list[list[tuple[_Span, re.Match[str]]]]:
    """Every flag's pattern matches, in text order, each with its sentence.

    A pattern that starts with known text is tried only where a word starts with its
    first three (or two) characters; the other patterns are searched sentence by
    sentence.
    """
    text = doc.text
    found: list[list[tuple[_Span, re.Match[str]]]] = [[] for _ in lexicon.flags]
    sentences = doc.sentences
    index = 0
    for word in _WORD_START.finditer(text):
        start = word.start()
        entries = lexicon.dispatch.get(text[start : start + 3], ()) + lexicon.dispatch.get(
            text[start : start + 2], ()
        )
        if not entries:
            continue
        while index + 1 < len(sentences) and sentences[index].end <= start:
            index += 1
        sentence = sentences[index]
        for flag_index, pattern in entries:
            match = pattern.match(text, start, sentence.end)
            if match is not None:
                found[flag_index].append((sentence, match))
    for flag_index, rule in enumerate(lexicon.flags):
        if rule.residual is None:
            continue
        for sentence in sentences:
            for match in rule.residual.finditer(text, sentence.start, sentence.end):
                found[flag_index].append((sentence, match))
        found[flag_index].sort(key=lambda item: item[1].start())
    return found


def _scan_flags(doc: _Doc, lexicon: Lexicon) -> dict[str, bool]:
    found: dict[str, bool] = {}
    text = doc.text
    mentions = _flag_mentions(doc, lexicon)
    for rule, matches in zip(lexicon.flags, mentions, strict=True):
        for seen, (sentence, match) in enumerate(matches):
            if seen >= _MAX_MENTIONS:
                break
            if match.end() == match.start():
                continue
            if rule.exceptions is not None and any(
                s < match.end() and match.start() < e
                for s, e in (
                    m.span()
                    for m in rule.exceptions.finditer(
                        text,
                        max(sentence.start, match.start() - _LOOKBACK),
                        min(sentence.end, match.end() + _LOOKBACK),
                    )
                )
            ):
                continue
            if rule.context is not None and not rule.context.search(text, sentence.start, sentence.end):
                continue
            if _other_person(doc, lexicon, sentence, match) or _hypothetical(doc, lexicon, sentence, match):
                continue
            negated = _pre_negated(doc, lexicon, sentence, match) or _post_negated(
                doc, lexicon, sentence, match, rule
            )
            if not negated:
                found[rule.key] = True
                break  # affirmed: nothing later can change it
            found.setdefault(rule.key, False)
        if rule.negative is not None and not found.get(rule.key):
            for match in rule.negative.finditer(text):
                sentence = doc.sentence_at(match.start())
                if _pre_negated(doc, lexicon, sentence, match) or _other_person(
                    doc, lexicon, sentence, match
                ):
                    continue
                found[rule.key] = False
                break
    return found


# --------------------------------------------------------------------------- areas


def _clauses(doc: _Doc, lexicon: Lexicon, breaker: re.Pattern[str]) -> Iterator[_Span]:
    """Sentences cut at contrastive words and at conjunctions that start a new statement."""
    for sentence in doc.sentences:
        cuts = sorted(
            {m.start() for m in lexicon.contrast.finditer(doc.text, sentence.start, sentence.end)}
            | {m.start() for m in breaker.finditer(doc.text, sentence.start, sentence.end)}
        )
        start = sentence.start
        for cut in cuts:
            if cut > start:
                yield _Span(start, cut)
            start = cut
        if sentence.end > start:
            yield _Span(start, sentence.end)


def _distance(a: tuple[int, int], b: tuple[int, int]) -> int:
    if a[1] <= b[0]:
        return b[0] - a[1]
    if b[1] <= a[0]:
        return a[0] - b[1]
    return 0


def _symptom_kind(
    text: str,
    lexicon: Lexicon,
    clause: _Span,
    mention: re.Match[str],
    hits: Sequence[tuple[tuple[int, int], str]],
) -> str:
    """Is the area named with a pain word or with another symptom ("gone numb")?

    The area's own predicate decides ("my thigh has gone numb", "my back is sore");
    failing that, the nearest symptom word in the clause.
    """
    verb = lexicon.verbs.search(text, mention.end(), min(clause.end, mention.end() + 40))
    if verb is not None and _words(text[mention.end() : verb.start()]) <= 1:
        following = [(span[0], kind) for span, kind in hits if verb.start() <= span[0] <= verb.end() + 25]
        if following:
            return min(following)[1]
    return min(hits, key=lambda hit: _distance(hit[0], mention.span()))[1]


def _scan_areas(doc: _Doc, lexicon: Lexicon) -> tuple[tuple[str, ...], tuple[str, ...]]:
    text = doc.text
    location: list[str] = []
    radiates: list[str] = []
    neutral: list[str] = []  # areas named with no symptom word at all ("a lump in my groin")
    for clause in _clauses(doc, lexicon, lexicon.clause_break):
        mentions = [m for m in lexicon.areas.finditer(text, clause.start, clause.end) if m.lastgroup]
        if not mentions:
            continue
        pains = [m.span() for m in lexicon.pain_words.finditer(text, clause.start, clause.end)]
        spreads = [m.span() for m in lexicon.radiation.finditer(text, clause.start, clause.end)]
        others = [m.span() for m in lexicon.other_symptoms.finditer(text, clause.start, clause.end)]
        if not pains and not spreads:
            sentence = doc.sentence_at(clause.start)
            if not lexicon.other_symptoms.search(text, sentence.start, sentence.end):
                for mention in mentions:
                    if mention.lastgroup and mention.lastgroup not in neutral:
                        neutral.append(mention.lastgroup)
            continue
        hits = [(span, "pain") for span in pains + spreads] + [(span, "other") for span in others]
        for mention in mentions:
            area = mention.lastgroup
            if area is None:
                continue
            before = text[max(clause.start, mention.start() - 40) : mention.start()]
            cue = max((s for s, _ in spreads if s < mention.start()), default=None)
            # After a radiation verb with no other symptom in between, the verb governs
            # ("shoots ... into my calf, with a numb patch"); otherwise the nearest
            # symptom word decides whether this area is about pain at all.
            governed = cue is not None and not any(cue < s < mention.start() for s, _ in others)
            if not governed and _symptom_kind(text, lexicon, clause, mention, hits) != "pain":
                continue
            spreading = cue is not None and not lexicon.radiation_source.search(before)
            target = radiates if spreading else location
            if area not in target:
                target.append(area)
    # Nothing called painful, but areas named (someone writing to a pain check
    # about "the lump in my groin" or "my hip clicks"): those are where it is.
    if not location:
        location = [area for area in neutral if area not in radiates]
    return tuple(location), tuple(radiates)


# --------------------------------------------------------------------------- numbers


def _number(text: str | None, lexicon: Lexicon) -> float | None:
    if text is None:
        return None
    cleaned = _squash(text)
    try:
        return float(cleaned)
    except ValueError:
        pass
    return lexicon.number_values.get(cleaned)


def _round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def _quantity_weeks(match: re.Match[str], lexicon: Lexicon) -> float | None:
    groups = match.groupdict()
    unit_text = groups.get("unit")
    if unit_text is None:
        return None
    unit_text = unit_text.strip()
    per_unit = next((u.weeks for u in lexicon.units if u.forms.match(unit_text)), None)
    if per_unit is None:
        return None
    if groups.get("half_pre"):
        amount: float | None = 0.5
    elif groups.get("n") is None:
        amount = 1.0  # a unit on its own: "for the past month"
    else:
        amount = _number(groups.get("n"), lexicon)
        upper = _number(groups.get("n2"), lexicon)
        if amount is not None and upper is not None:
            amount = max(amount, upper)
    if amount is None:
        return None
    if groups.get("half_post") or groups.get("half_mid"):
        amount += 0.5
    return amount * per_unit


def _relative_weeks(text: str, lexicon: Lexicon) -> float | None:
    cleaned = " ".join(text.split())
    for pattern, weeks in lexicon.relative:
        if pattern.match(cleaned):
            return weeks
    return None


def _match_weeks(match: re.Match[str], lexicon: Lexicon) -> float | None:
    vague = match.groupdict().get("vague")
    if vague is not None:
        return lexicon.vague.get(_squash(vague))
    weeks = _quantity_weeks(match, lexicon)
    if weeks is not None:
        return weeks
    # a relative time: the phrase matched is the whole match or its last words
    phrase = match.group(0)
    for size in range(len(phrase.split()), 0, -1):
        tail = " ".join(phrase.split()[-size:])
        value = _relative_weeks(tail, lexicon)
        if value is not None:
            return value
    return None


def _tidy_weeks(weeks: float) -> float:
    return max(_MIN_DURATION_WEEKS, round(weeks, 2)) if weeks > 0 else 0.0


@dataclass(frozen=True)
class _Duration:
    kind: str
    weeks: float | None
    start: int
    end: int


def _duration_candidates(doc: _Doc, lexicon: Lexicon) -> list[_Duration]:
    found: list[_Duration] = []
    # only sentences that name a unit or a time are worth the full patterns
    timed = [s for s in doc.sentences if lexicon.time_words.search(doc.text, s.start, s.end)]
    matches = (
        (kind, match)
        for kind, pattern in lexicon.duration_patterns
        for sentence in timed
        for match in pattern.finditer(doc.text, sentence.start, sentence.end)
    )
    for kind, match in matches:
        if match.end() == match.start():
            continue
        weeks = None if kind == "since_then" else _match_weeks(match, lexicon)
        if weeks is None and kind != "since_then":
            continue
        found.append(_Duration(kind, weeks, match.start(), match.end()))
    found.sort(key=lambda item: (item.start, item.end))
    resolved: list[_Duration] = []
    for item in found:
        if item.kind == "since_then":
            anchor = next(
                (
                    earlier
                    for earlier in reversed(resolved)
                    if earlier.kind in _ANCHOR_KINDS and earlier.end <= item.start
                ),
                None,
            )
            if anchor is None:
                continue
            item = _Duration(item.kind, anchor.weeks, item.start, item.end)
        resolved.append(item)
    return resolved


def _linked(doc: _Doc, lexicon: Lexicon, span: _Span) -> bool:
    text = doc.text
    return any(
        pattern.search(text, span.start, span.end)
        for pattern in (lexicon.pain_words, lexicon.radiation, lexicon.link_words)
    )


def _pick_duration(doc: _Doc, lexicon: Lexicon) -> float | None:
    candidates = _duration_candidates(doc, lexicon)
    if not candidates:
        return None
    clauses = list(_clauses(doc, lexicon, lexicon.scope_break))
    clause_starts = [c.start for c in clauses]

    def clause_of(position: int) -> _Span:
        return clauses[max(0, bisect.bisect_right(clause_starts, position) - 1)]

    tiers: list[Callable[[_Duration], bool]] = [
        lambda c: c.kind in _LINKED_KINDS and _linked(doc, lexicon, clause_of(c.start)),
        lambda c: c.kind in _LINKED_KINDS and _linked(doc, lexicon, doc.sentence_at(c.start)),
        lambda c: (
            c.kind in _ANCHOR_KINDS | {"since_then"}
            and lexicon.onset.search(doc.text, doc.sentence_at(c.start).start, doc.sentence_at(c.start).end)
            is not None
        ),
        lambda c: c.kind == "bare" and _linked(doc, lexicon, doc.sentence_at(c.start)),
    ]
    for accept in tiers:
        values = [
            c.weeks
            for c in candidates
            if c.weeks is not None and c.weeks <= _MAX_DURATION_WEEKS and accept(c)
        ]
        if values:
            return _tidy_weeks(max(values))
    return None


def _pick_pain(doc: _Doc, lexicon: Lexicon) -> int | None:
    scores: list[tuple[bool, int]] = []
    text = doc.text
    for pattern in lexicon.pain_patterns:
        for match in pattern.finditer(text):
            value = _number(match.group("n"), lexicon)
            upper = _number(match.groupdict().get("n2"), lexicon)
            if value is None:
                continue
            if upper is not None:
                value = max(value, upper)
            if not 0 <= value <= 10:
                continue
            sentence = doc.sentence_at(match.start())
            window = text[max(sentence.start, match.start() - 30) : min(sentence.end, match.end() + 30)]
            scores.append((lexicon.now_cue.search(window) is not None, _round_half_up(value)))
    if not scores:
        return None
    now = [value for is_now, value in scores if is_now]
    return max(now) if now else max(value for _, value in scores)


def _first_valid(
    patterns: Sequence[re.Pattern[str]],
    text: str,
    read: Callable[[re.Match[str]], Any],
) -> Any:
    best: tuple[int, Any] | None = None
    for pattern in patterns:
        for match in pattern.finditer(text):
            value = read(match)
            if value is None:
                continue
            if best is None or match.start() < best[0]:
                best = (match.start(), value)
            break
    return None if best is None else best[1]


def _age_of(match: re.Match[str], lexicon: Lexicon) -> int | None:
    value = _number(match.group("n"), lexicon)
    if value is None or value != int(value) or not 0 <= value <= 120:
        return None
    return int(value)


def _sex_of(match: re.Match[str], lexicon: Lexicon) -> str | None:
    word = " ".join(match.group("sex").split())
    return lexicon.sex_codes.get(word)


# --------------------------------------------------------------------------- API


def understand(text: str, lexicon: Lexicon) -> Findings:
    """Read a free-text message; see the module docstring for how."""
    if not isinstance(text, str) or not text.strip():
        return Findings()
    doc = _document(text, lexicon)
    if not doc.text:
        return Findings()
    location, radiates = _scan_areas(doc, lexicon)
    return Findings(
        flags=_scan_flags(doc, lexicon),
        pain_location=location,
        radiates_to=radiates,
        duration_weeks=_pick_duration(doc, lexicon),
        pain_now=_pick_pain(doc, lexicon),
        age=_first_valid(lexicon.age_patterns, doc.text, lambda m: _age_of(m, lexicon)),
        sex=_first_valid(lexicon.sex_patterns, doc.text, lambda m: _sex_of(m, lexicon)),
    )


def _short(text: str, lexicon: Lexicon) -> str:
    return _EDGE_PUNCTUATION.sub("", normalise(text[:500], lexicon))


def parse_yes_no(text: str, lexicon: Lexicon) -> bool | None:
    """A typed answer to a yes/no question: True, False, or None when unclear."""
    if not isinstance(text, str):
        return None
    answer = " ".join(_short(text, lexicon).replace("-", " ").split())
    if not answer:
        return None
    vocabulary = lexicon.yes_no

    def leads(phrase: str) -> bool:
        if not answer.startswith(phrase):
            return False
        rest = answer[len(phrase) :]
        return not rest or not (rest[0].isalnum() or rest[0] in "'")

    if any(leads(phrase) for phrase in vocabulary.unsure):
        return None
    if answer in vocabulary.yes_whole or answer in vocabulary.yes_leading:
        return True
    if answer in vocabulary.no_whole or answer in vocabulary.no_leading:
        return False
    best: tuple[int, bool] | None = None
    for phrases, value in ((vocabulary.yes_leading, True), (vocabulary.no_leading, False)):
        for phrase in phrases:
            if leads(phrase) and (best is None or len(phrase) > best[0]):
                best = (len(phrase), value)
    return None if best is None else best[1]


def parse_pain_score(text: str, lexicon: Lexicon) -> int | None:
    """A typed pain score 0-10 ("6", "6/10", "six", "about 7 out of 10"), else None."""
    if not isinstance(text, str):
        return None
    answer = _short(text, lexicon)
    if not answer or answer.startswith("-") or text.strip().startswith(("-", "\u2212")):
        return None
    for pattern in lexicon.answer_pain:
        match = pattern.fullmatch(answer)
        if match:
            value = _number(match.group("n"), lexicon)
            upper = _number(match.groupdict().get("n2"), lexicon)
            if value is not None and upper is not None:
                value = max(value, upper)
            if value is None or not 0 <= value <= 10:
                return None
            return _round_half_up(value)
    doc = _document(text[:500], lexicon)
    return _pick_pain(doc, lexicon)


def parse_duration_weeks(text: str, lexicon: Lexicon) -> float | None:
    """A typed answer to "how long?" in weeks ("3 weeks", "10 days", "since yesterday")."""
    if not isinstance(text, str):
        return None
    doc = _document(text[:500], lexicon)
    values = [c.weeks for c in _duration_candidates(doc, lexicon) if c.weeks is not None]
    for pattern in lexicon.answer_duration:
        for match in pattern.finditer(doc.text):
            weeks = _quantity_weeks(match, lexicon)
            if weeks is not None:
                values.append(weeks)
    if not values:
        return None
    weeks = max(values)
    return _tidy_weeks(weeks) if 0 <= weeks <= _MAX_DURATION_WEEKS else None


def parse_age(text: str, lexicon: Lexicon) -> int | None:
    """A typed age ("45", "I'm 45", "forty five"); None outside 0-120."""
    if not isinstance(text, str):
        return None
    answer = _short(text, lexicon)
    if not answer or text.strip().startswith(("-", "\u2212")):
        return None
    for pattern in lexicon.answer_age:
        match = pattern.fullmatch(answer)
        if match:
            return _age_of(match, lexicon)
    value: int | None = _first_valid(lexicon.age_patterns, answer, lambda m: _age_of(m, lexicon))
    return value


def parse_areas(text: str, lexicon: Lexicon) -> tuple[str, ...]:
    """Areas named in a typed answer, in order of mention, without duplicates."""
    if not isinstance(text, str):
        return ()
    answer = normalise(text[:1000], lexicon)
    found: list[str] = []
    for match in lexicon.area_answers.finditer(answer):
        area = match.lastgroup
        if area is not None and area not in found:
            found.append(area)
    return tuple(found)
