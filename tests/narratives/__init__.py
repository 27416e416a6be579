"""People's own words, labelled: the set a reader of typed text is measured on.

Each story is a message as someone would type it to the bot (`{"text": ...}` is
all `psoasbot assess` gets), with what a careful clinician would record from it
(`answers`, keys of the assess contract), the urgency the project's rules give
those answers, whether ball release is allowed, and what the reader must find in
the words alone (`expect`). A story marked `rules_disagree` carries the
clinician's urgency where it differs from the rules, with the reason in `why`.
Files:

    tests/narratives/<language>/dev/*.yaml    grouped by theme; free to study
    tests/narratives/<language>/holdout.yaml  kept apart, to check that a reader
                                              tuned on dev generalises

This module loads and strictly validates the files (every problem names file and
story id), and scores a text -> (urgency, ball allowed) function per class:
exact agreement, under- and over-triage, escalation recall and unsafe ball
advice. Under-triage is listed story by story because it is the defect that
matters most.
"""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from bot.core.answers import BOOLEAN_KEYS, SEXES, AnswerError, validate_answers
from bot.core.policy import URGENCIES as URGENCY_NAMES
from bot.core.policy import Urgency
from bot.core.understanding import Findings

ROOT: Final[Path] = Path(__file__).resolve().parent
SPLITS: Final[tuple[str, ...]] = ("dev", "holdout")
CLASSES: Final[tuple[str, ...]] = (
    "negation",
    "context",
    "lay_language",
    "numbers",
    "broad_patterns",
    "long",
    "plain",
    "for_someone_else",
)
URGENCIES: Final[tuple[str, ...]] = URGENCY_NAMES
ESCALATIONS: Final[frozenset[str]] = frozenset({"URGENT", "EMERGENCY"})
LONG_MIN_CHARS: Final[int] = 1500
_LOADER: Final = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 10x faster

_FILE_KEYS: Final[frozenset[str]] = frozenset({"schema_version", "language", "stories"})
_REQUIRED: Final[frozenset[str]] = frozenset(
    {"id", "classes", "narrative", "answers", "expected_urgency", "allow_ball_release", "expect", "why"}
)
_OPTIONAL: Final[frozenset[str]] = frozenset({"rules_disagree"})
_EXPECT_KEYS: Final[frozenset[str]] = frozenset(
    {"flags_true", "flags_false", "age", "duration_weeks", "pain_now", "sex"}
)


class NarrativeError(ValueError):
    """A story file does not fit the schema; each line names the file and the story."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid narrative files:\n  " + "\n  ".join(self.problems))


@dataclass(frozen=True)
class Expect:
    """What a reader must get from the narrative alone."""

    flags_true: tuple[str, ...] = ()
    flags_false: tuple[str, ...] = ()
    age: int | None = None
    duration_weeks: float | None = None
    pain_now: int | None = None
    sex: str | None = None


@dataclass(frozen=True)
class Story:
    """One labelled message."""

    id: str
    source: Path
    split: str
    classes: tuple[str, ...]
    narrative: str
    answers: Mapping[str, Any]
    expected_urgency: str
    allow_ball_release: bool
    expect: Expect
    why: str
    rules_disagree: bool = False

    @property
    def where(self) -> str:
        return f"{_relative(self.source)}: {self.id}"


# --------------------------------------------------------------------------- loading


def story_files(language: str = "en", split: str | None = None, root: Path = ROOT) -> list[Path]:
    """The story files of one language, dev first, in a stable order."""
    base = root / language
    files: list[Path] = []
    if split in (None, "dev"):
        files.extend(sorted((base / "dev").glob("*.yaml")))
    if split in (None, "holdout"):
        holdout = base / "holdout.yaml"
        if holdout.is_file():
            files.append(holdout)
    return files


def load_stories(language: str = "en", split: str | None = None, root: Path = ROOT) -> list[Story]:
    """Every story of a language (or of one split), validated; raises NarrativeError.

    Ids are checked for uniqueness across all files of the language even when
    only one split is asked for, so a holdout id can never shadow a dev one.
    """
    problems: list[str] = []
    stories: list[Story] = []
    for path in story_files(language, root=root):
        stories.extend(_load_file(path, language, problems))
    seen: dict[str, Story] = {}
    for story in stories:
        if story.id in seen:
            problems.append(f"{story.where}: duplicate id (first in {_relative(seen[story.id].source)})")
        else:
            seen[story.id] = story
    if problems:
        raise NarrativeError(problems)
    return [story for story in stories if split is None or story.split == split]


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT.parents[1]))
    except ValueError:
        return str(path)


def _load_file(path: Path, language: str, problems: list[str]) -> list[Story]:
    name = _relative(path)
    split = "holdout" if path.name == "holdout.yaml" else "dev"
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    except (OSError, yaml.YAMLError) as error:
        problems.append(f"{name}: cannot be read: {error}")
        return []
    if not isinstance(data, dict):
        problems.append(f"{name}: must be a mapping with schema_version, language and stories")
        return []
    for key in sorted(set(data) - _FILE_KEYS):
        problems.append(f"{name}: unknown top-level key {key!r}")
    if data.get("schema_version") != 1:
        problems.append(f"{name}: schema_version must be 1")
    if data.get("language") != language:
        problems.append(f"{name}: language must be {language!r}, got {data.get('language')!r}")
    raw_stories = data.get("stories")
    if not isinstance(raw_stories, list) or not raw_stories:
        problems.append(f"{name}: stories must be a non-empty list")
        return []
    stories: list[Story] = []
    for index, raw in enumerate(raw_stories):
        story = _story(path, split, index, raw, problems)
        if story is not None:
            stories.append(story)
    return stories


def _story(path: Path, split: str, index: int, raw: object, problems: list[str]) -> Story | None:
    name = _relative(path)
    if not isinstance(raw, dict):
        problems.append(f"{name}: stories[{index}]: must be a mapping")
        return None
    story_id = raw.get("id")
    if not isinstance(story_id, str) or not story_id.strip():
        problems.append(f"{name}: stories[{index}]: id must be a non-empty string")
        return None
    where = f"{name}: {story_id}"
    before = len(problems)

    def fail(message: str) -> None:
        problems.append(f"{where}: {message}")

    for key in sorted(set(raw) - _REQUIRED - _OPTIONAL):
        fail(f"unknown key {key!r}")
    for key in sorted(_REQUIRED - set(raw)):
        fail(f"missing key {key!r}")
    if len(problems) > before:
        return None

    classes = raw["classes"]
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
        fail("classes must be a non-empty list of class names")
        classes = []
    for unknown in [c for c in classes if c not in CLASSES]:
        fail(f"unknown class {unknown!r}; known: {list(CLASSES)}")
    if len(set(classes)) != len(classes):
        fail("classes repeat")

    narrative = raw["narrative"]
    if not isinstance(narrative, str) or not narrative.strip():
        fail("narrative must be a non-empty string")
        narrative = ""
    if "long" in classes and len(narrative) < LONG_MIN_CHARS:
        fail(f"class 'long' needs at least {LONG_MIN_CHARS} characters, got {len(narrative)}")

    answers = raw["answers"]
    if isinstance(answers, dict) and "text" in answers:
        fail("answers must not hold 'text': the narrative is the text")
    try:
        answers = validate_answers(answers)
    except AnswerError as error:
        fail(f"answers: {error}")
        answers = {}

    urgency = raw["expected_urgency"]
    if urgency not in URGENCIES:
        fail(f"expected_urgency must be one of {list(URGENCIES)}, got {urgency!r}")
    ball = raw["allow_ball_release"]
    if not isinstance(ball, bool):
        fail(f"allow_ball_release must be true or false, got {ball!r}")
    elif ball and urgency != "SELF_CARE":
        fail("allow_ball_release can only be true at SELF_CARE")
    why = raw["why"]
    if not isinstance(why, str) or not why.strip():
        fail("why must be a non-empty line")
    disagree = raw.get("rules_disagree", False)
    if not isinstance(disagree, bool):
        fail("rules_disagree must be true or false")

    expect = _expect(raw["expect"], answers, fail)
    if len(problems) > before or expect is None:
        return None
    return Story(
        id=story_id,
        source=path,
        split=split,
        classes=tuple(classes),
        narrative=narrative,
        answers=answers,
        expected_urgency=urgency,
        allow_ball_release=ball,
        expect=expect,
        why=why.strip(),
        rules_disagree=disagree,
    )


def _expect(raw: object, answers: Mapping[str, Any], fail: Callable[[str], None]) -> Expect | None:
    """Check `expect` on its own and against `answers`: the two are one clinician's record."""
    if not isinstance(raw, dict):
        fail("expect must be a mapping")
        return None
    for key in sorted(set(raw) - _EXPECT_KEYS):
        fail(f"expect: unknown key {key!r}")
    flags: dict[str, tuple[str, ...]] = {}
    for name in ("flags_true", "flags_false"):
        value = raw.get(name, [])
        if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
            fail(f"expect.{name} must be a list of answer keys")
            value = []
        for key in value:
            if key not in BOOLEAN_KEYS:
                fail(f"expect.{name}: {key!r} is not a yes/no answer key")
        if len(set(value)) != len(value):
            fail(f"expect.{name} repeats a key")
        flags[name] = tuple(value)
    for key in set(flags["flags_true"]) & set(flags["flags_false"]):
        fail(f"expect: {key!r} is both true and false")
    for key in flags["flags_true"]:
        if answers.get(key) is not True:
            fail(f"expect.flags_true has {key!r} but answers do not say it is true")
    for key in flags["flags_false"]:
        if answers.get(key) is True:
            fail(f"expect.flags_false has {key!r} but answers say it is true")
    values: dict[str, Any] = {}
    for key, kind in (("age", int), ("pain_now", int), ("duration_weeks", float)):
        if key not in raw:
            continue
        value = raw[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (kind is int and not isinstance(value, int))
        ):
            fail(f"expect.{key} must be a number, got {value!r}")
            continue
        if answers.get(key) != value:
            fail(f"expect.{key} is {value!r} but answers.{key} is {answers.get(key)!r}")
        values[key] = value
    if "sex" in raw:
        if raw["sex"] not in SEXES:
            fail(f"expect.sex must be one of {list(SEXES)}")
        elif answers.get("sex") != raw["sex"]:
            fail(f"expect.sex is {raw['sex']!r} but answers.sex is {answers.get('sex')!r}")
        else:
            values["sex"] = raw["sex"]
    return Expect(
        flags_true=flags["flags_true"],
        flags_false=flags["flags_false"],
        age=values.get("age"),
        duration_weeks=float(values["duration_weeks"]) if "duration_weeks" in values else None,
        pain_now=values.get("pain_now"),
        sex=values.get("sex"),
    )


# --------------------------------------------------------------------------- scoring

Prediction = tuple[str, bool]
"""What a reader made of a story: (urgency, ball release allowed)."""


@dataclass
class Score:
    """How a reader did on a group of stories."""

    name: str
    total: int = 0
    exact: int = 0
    over: int = 0
    under: list[str] = field(default_factory=list)
    escalations: int = 0
    escalations_caught: int = 0
    unsafe_ball: list[str] = field(default_factory=list)

    def add(self, story_id: str, target: Prediction, got: Prediction) -> None:
        (want, want_ball), (urgency, ball) = target, got
        self.total += 1
        if urgency == want:
            self.exact += 1
        elif Urgency(urgency).rank > Urgency(want).rank:
            self.over += 1
        else:
            self.under.append(f"{story_id} ({want} -> {urgency})")
        if want in ESCALATIONS:
            self.escalations += 1
            self.escalations_caught += urgency in ESCALATIONS
        if ball and not want_ball:
            self.unsafe_ball.append(story_id)

    @property
    def exact_pct(self) -> float:
        return _pct(self.exact, self.total)

    @property
    def over_pct(self) -> float:
        return _pct(self.over, self.total)

    @property
    def recall_pct(self) -> float | None:
        return _pct(self.escalations_caught, self.escalations) if self.escalations else None


def _pct(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0


def score(
    stories: Iterable[Story],
    predict: Callable[[str], Prediction],
    target: Callable[[Story], Prediction] | None = None,
) -> dict[str, Score]:
    """Score `predict` (narrative -> urgency, ball) overall ("all") and per class.

    `target` gives what a perfect reader would reach for a story; by default its
    labels. (A story marked `rules_disagree` is labelled by clinical judgement,
    which the rules do not reach; pass a target that runs the rules on its
    answers to measure the reader alone.)
    """
    goal = target or (lambda story: (story.expected_urgency, story.allow_ball_release))
    scores: dict[str, Score] = {"all": Score("all")}
    for story in stories:
        want = goal(story)
        got = predict(story.narrative)
        for name in ("all", *story.classes):
            scores.setdefault(name, Score(name)).add(story.id, want, got)
    order = {name: index for index, name in enumerate(("all", *CLASSES))}
    return dict(sorted(scores.items(), key=lambda item: order.get(item[0], len(order))))


def format_scores(title: str, scores: Mapping[str, Score]) -> str:
    """A plain-text table, one row per class, then the under-triaged stories."""
    lines = [
        title,
        f"  {'class':<17}{'n':>5}{'exact%':>8}{'over%':>7}{'under':>7}{'esc.recall%':>13}{'unsafe ball':>13}",
    ]
    for item in scores.values():
        recall = "-" if item.recall_pct is None else f"{item.recall_pct:.1f}"
        lines.append(
            f"  {item.name:<17}{item.total:>5}{item.exact_pct:>8.1f}{item.over_pct:>7.1f}"
            f"{len(item.under):>7}{recall:>13}{len(item.unsafe_ball):>13}"
        )
    overall = scores.get("all")
    if overall and overall.under:
        lines.extend(_wrapped(f"under-triaged ({len(overall.under)}): ", overall.under))
    if overall and overall.unsafe_ball:
        lines.extend(_wrapped(f"unsafe ball advice ({len(overall.unsafe_ball)}): ", overall.unsafe_ball))
    return "\n".join(lines)


def _wrapped(label: str, items: Sequence[str]) -> list[str]:
    return textwrap.wrap(
        ", ".join(items),
        width=108,
        initial_indent="  " + label,
        subsequent_indent="    ",
        break_on_hyphens=False,
    )


# --------------------------------------------------------------------------- findings

EXPECT_FIELDS: Final[tuple[str, ...]] = (
    "flags_true",
    "flags_false",
    "flags_false_negated",
    "age",
    "duration_weeks",
    "pain_now",
    "sex",
)


def duration_close(found: float | None, expected: float) -> bool:
    """Approximately right: within a quarter of the expected value, or half a week."""
    return found is not None and abs(found - expected) <= max(0.25 * expected, 0.5)


def expect_agreement(stories: Iterable[Story], read: Callable[[str], Findings]) -> dict[str, tuple[int, int]]:
    """How often what `read` finds in the narrative agrees with `expect`, per field.

    Returns field -> (agreeing, checked). `flags_true`: each expected key is
    affirmed. `flags_false`: each is not affirmed (what triage needs);
    `flags_false_negated`: each is explicitly negated (the stricter reading).
    Numbers count when stated; the duration only approximately.
    """
    tally: Counter[str] = Counter()
    checked: Counter[str] = Counter()
    for story in stories:
        found = read(story.narrative)
        expect = story.expect
        for key in expect.flags_true:
            checked["flags_true"] += 1
            tally["flags_true"] += found.flags.get(key) is True
        for key in expect.flags_false:
            checked["flags_false"] += 1
            tally["flags_false"] += found.flags.get(key) is not True
            checked["flags_false_negated"] += 1
            tally["flags_false_negated"] += found.flags.get(key) is False
        if expect.age is not None:
            checked["age"] += 1
            tally["age"] += found.age == expect.age
        if expect.duration_weeks is not None:
            checked["duration_weeks"] += 1
            tally["duration_weeks"] += duration_close(found.duration_weeks, expect.duration_weeks)
        if expect.pain_now is not None:
            checked["pain_now"] += 1
            tally["pain_now"] += found.pain_now == expect.pain_now
        if expect.sex is not None:
            checked["sex"] += 1
            tally["sex"] += found.sex == expect.sex
    return {name: (tally[name], checked[name]) for name in EXPECT_FIELDS}


def format_agreement(title: str, agreement: Mapping[str, tuple[int, int]]) -> str:
    cells = [
        f"{name} {_pct(hit, total):.1f}% ({hit}/{total})" for name, (hit, total) in agreement.items() if total
    ]
    return f"{title}: " + ", ".join(cells)
