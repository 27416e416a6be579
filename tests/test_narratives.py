"""The narrative set (tests/narratives): people's own words, labelled by a clinician's reading.

Four things are checked or measured here:

1. every story file fits the schema, and ids are unique across dev and holdout;
2. each story's label is what the project's rules give for the answers a careful
   clinician would record from it (a story marked `rules_disagree` is one where
   clinical judgement and the rules part ways: it is listed as a skip with the
   reason, never hidden);
3. triage from the words alone (`psoasbot assess` with only `text`), per class,
   dev and holdout apart; printed, not asserted, except that every story runs;
4. what the free-text reader finds against each story's `expect`, per field;
   printed, not asserted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.adapters.assess import assess
from bot.core.triage import triage
from bot.core.understanding import Lexicon, load_lexicon, understand
from tests.narratives import (
    CLASSES,
    ESCALATIONS,
    ROOT,
    NarrativeError,
    Prediction,
    Story,
    expect_agreement,
    format_agreement,
    format_scores,
    load_stories,
    score,
)
from tests.support import ROOT as REPO
from tests.support import core

VERY_LONG_CHARS = 15_000
LANGUAGES = tuple(sorted(path.parent.name for path in ROOT.glob("*/dev")))


@dataclass(frozen=True)
class Minimums:
    """How large and how well spread one language's set must be."""

    dev: int
    holdout: int
    per_class_dev: int
    per_class_holdout: int
    flag_affirmed: int
    flag_ruled_out: int
    very_long: int


# English is the reference set; a language added later starts smaller.
MINIMUMS = {"en": Minimums(270, 70, 10, 3, 3, 3, 3)}
NEW_LANGUAGE = Minimums(50, 15, 4, 3, 2, 1, 1)


def _minimums(language: str) -> Minimums:
    return MINIMUMS.get(language, NEW_LANGUAGE)


def _stories(language: str) -> list[Story]:
    """The stories for parametrising; empty when the files are broken (the schema test says why)."""
    try:
        return load_stories(language)
    except NarrativeError:
        return []


STORIES_BY_LANGUAGE = {language: _stories(language) for language in LANGUAGES}
STORIES = [story for stories in STORIES_BY_LANGUAGE.values() for story in stories]


def _split(language: str, name: str) -> list[Story]:
    stories = [story for story in STORIES_BY_LANGUAGE[language] if story.split == name]
    if not stories:
        pytest.fail(
            f"no {language} {name} stories loaded; see test_story_files_fit_the_schema_with_unique_ids"
        )
    return stories


def _rules(story: Story) -> Prediction:
    result = triage(story.answers, core().content)
    return result.urgency, result.ball_release_allowed


def _target(story: Story) -> Prediction:
    """What a perfect reader reaches: the label, or the rules' result where the two disagree."""
    return _rules(story) if story.rules_disagree else (story.expected_urgency, story.allow_ball_release)


def _from_words(text: str, language: str = "en") -> Prediction:
    """`psoasbot assess` with the words alone, read in the story's language; where that
    language has a reader (content/understanding/<lang>.yaml) but no messages yet, triage
    with that reader; with neither, English words."""
    if language in core().content.languages:
        result = assess(json.dumps({"text": text, "language": language}), core())
        return result["urgency"], result["ball_release_allowed"]
    found = _reader(language)
    if found is None:
        result = assess(json.dumps({"text": text}), core())
        return result["urgency"], result["ball_release_allowed"]
    content = dataclasses.replace(core().content, lexicon=found)
    triaged = triage({"text": text}, content)
    return triaged.urgency.value, triaged.ball_release_allowed


@functools.cache
def _reader(language: str) -> Lexicon | None:
    path = REPO / "content" / "understanding" / f"{language}.yaml"
    return load_lexicon(path) if path.exists() else None


@pytest.fixture(scope="session")
def report(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """Lines to show after the run; also written to a file under pytest's temporary folder."""
    lines: list[str] = []
    yield lines
    if not lines:
        return
    path = tmp_path_factory.mktemp("narratives") / "report.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:
        return
    # Teardown output is captured like a test's; this report is for the person running pytest.
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        reporter.ensure_newline()
        reporter.section("narratives: what the words alone give (measured, not asserted)", sep="-")
        for line in lines:
            reporter.write_line(line)
        reporter.write_line(f"(written to {path})")


# --------------------------------------------------------------------------- 1. schema


@pytest.mark.parametrize("language", LANGUAGES)
def test_story_files_fit_the_schema_with_unique_ids(language: str) -> None:
    dev = load_stories(language, split="dev")
    holdout = load_stories(language, split="holdout")
    assert len(dev) >= _minimums(language).dev
    assert len(holdout) >= _minimums(language).holdout
    assert not {s.id for s in dev} & {s.id for s in holdout}


def _broken_copy(tmp_path: Path, change: Any) -> Path:
    """A copy of the English files with one story changed by `change(story_dict)`."""
    root = tmp_path / "narratives"
    shutil.copytree(ROOT / "en", root / "en")
    path = root / "en" / "dev" / "cauda_equina.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data["stories"][0])
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return root


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.update(urgency_note="x"), "unknown key 'urgency_note'"),
        (lambda s: s.update(expected_urgency="SOON"), "expected_urgency must be one of"),
        (lambda s: s.update(classes=["negation", "gossip"]), "unknown class 'gossip'"),
        (lambda s: s["answers"].update(fevr=True), "unknown key 'fevr'"),
        (lambda s: s["expect"].update(flags_true=["fever"]), "answers do not say it is true"),
        (lambda s: s.update(id="en-dev-ces-002"), "duplicate id"),
        (lambda s: s.pop("why"), "missing key 'why'"),
    ],
    ids=[
        "unknown-key",
        "bad-urgency",
        "unknown-class",
        "bad-answer",
        "expect-vs-answers",
        "duplicate",
        "missing",
    ],
)
def test_a_broken_story_is_named_by_file_and_id(tmp_path: Path, change: Any, message: str) -> None:
    root = _broken_copy(tmp_path, change)
    with pytest.raises(NarrativeError) as caught:
        load_stories(root=root)
    problems = [p for p in caught.value.problems if message in p]
    assert problems, caught.value.problems
    assert all("cauda_equina.yaml" in p for p in problems)
    assert all(("en-dev-ces-001" in p) or ("en-dev-ces-002" in p) for p in problems)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_dev_set_covers_every_red_flag_both_ways(language: str) -> None:
    """Each key a red-flag rule reads is affirmed and ruled out in enough dev stories (3 and 3 in English)."""
    dev = _split(language, "dev")
    least = _minimums(language)
    rules = yaml.safe_load((REPO / "content" / "red_flags.yaml").read_text(encoding="utf-8"))["rules"]
    keys = {key for rule in rules for key in _condition_keys(rule["when"])}
    affirmed = Counter(k for s in dev for k, v in s.answers.items() if v is True)
    ruled_out = Counter(k for s in dev for k in s.expect.flags_false)
    thin = {
        k: (affirmed[k], ruled_out[k])
        for k in sorted(keys)
        if affirmed[k] < least.flag_affirmed or ruled_out[k] < least.flag_ruled_out
    }
    assert not thin, f"{language}: keys with too few affirming or ruling-out dev stories: {thin}"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_sets_cover_every_class_and_a_realistic_mix(language: str) -> None:
    least = _minimums(language)
    for split in ("dev", "holdout"):
        stories = _split(language, split)
        per_class = Counter(c for s in stories for c in s.classes)
        wanted = least.per_class_dev if split == "dev" else least.per_class_holdout
        assert all(per_class[c] >= wanted for c in CLASSES), (language, split, per_class)
        escalations = sum(s.expected_urgency in ESCALATIONS for s in stories) / len(stories)
        routine = sum(s.expected_urgency == "ROUTINE" for s in stories) / len(stories)
        assert 0.30 <= escalations <= 0.45, (language, split, escalations)
        assert 0.15 <= routine <= 0.35, (language, split, routine)
    very_long = [s for s in STORIES_BY_LANGUAGE[language] if len(s.narrative) >= VERY_LONG_CHARS]
    assert len(very_long) >= least.very_long


def _condition_keys(condition: Any) -> Iterator[str]:
    """The yes/no answer keys a content condition (bot/core/rules.py language) reads."""
    if isinstance(condition, str):
        yield condition
    elif isinstance(condition, dict):
        for name, value in condition.items():
            if name in ("all", "any"):
                for item in value:
                    yield from _condition_keys(item)
            elif name == "not":
                yield from _condition_keys(value)


# --------------------------------------------------------------------------- 2. labels


@pytest.mark.parametrize("story", STORIES, ids=[s.id for s in STORIES])
def test_label_is_what_the_rules_give_for_the_recorded_answers(story: Story) -> None:
    urgency, ball = _rules(story)
    agrees = (urgency, ball) == (story.expected_urgency, story.allow_ball_release)
    if story.rules_disagree:
        assert not agrees, f"{story.where} is marked rules_disagree but the rules give its label"
        pytest.skip(
            f"clinical label {story.expected_urgency}, rules give {urgency} (ball {ball}): {story.why}"
        )
    assert agrees, (
        f"{story.where}: rules give {urgency} with ball {ball}, label is {story.expected_urgency} "
        f"with ball {story.allow_ball_release} ({story.why})"
    )


# --------------------------------------------------------------------------- 3. words alone


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("split", ["dev", "holdout"])
def test_triage_from_the_words_alone_runs_and_is_reported(
    split: str, language: str, report: list[str]
) -> None:
    stories = _split(language, split)
    errors: list[str] = []

    def predict(text: str) -> Prediction:
        try:
            return _from_words(text, language)
        except Exception as error:  # every failure is listed, then asserted below
            errors.append(f"{type(error).__name__}: {error}")
            return "SELF_CARE", True

    scores = score(stories, predict, target=_target)
    assert not errors, errors
    overall = scores["all"]
    recall = "-" if overall.recall_pct is None else f"{overall.recall_pct:.1f}%"
    report.append(
        f"{language} {split.upper()} ({len(stories)} stories): exact {overall.exact_pct:.1f}%, "
        f"under-triage {len(overall.under)}, over-triage {overall.over_pct:.1f}%, "
        f"escalation recall {recall}, unsafe ball advice {len(overall.unsafe_ball)}"
    )
    report.append(format_scores(f"{language} {split} per class:", scores))


# --------------------------------------------------------------------------- 4. findings


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("split", ["dev", "holdout"])
def test_what_the_reader_finds_is_reported_per_field(split: str, language: str, report: list[str]) -> None:
    stories = _split(language, split)
    lexicon = _reader(language) or core().content.lexicon  # the story's language where it has a reader
    agreement = expect_agreement(stories, lambda text: understand(text, lexicon))
    assert all(total > 0 for field, (_, total) in agreement.items() if field != "sex")
    report.append(format_agreement(f"{language} {split} findings agreement", agreement))
