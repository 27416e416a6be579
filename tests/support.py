"""Helpers shared by tests: building the core, and answering the flow like a user."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.core.app import Core, build_core
from bot.core.content import ContentError
from bot.core.engine import ConversationEngine, Outcome, Snapshot
from bot.core.events import Event, Press, Select, Start, Text
from bot.core.plan.model import Plan
from bot.core.replies import Reply, ReplyKind

ROOT = Path(__file__).resolve().parents[1]


def copy_content_tree(target: Path) -> Path:
    """A copy of content/ and flows/ under `target`, to edit without touching the repository."""
    shutil.copytree(ROOT / "content", target / "content")
    shutil.copytree(ROOT / "flows", target / "flows")
    return target


def edit_yaml(path: Path, change: Any) -> None:
    """Load a YAML file, let `change` edit the data in place, write it back."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def content_problems(tree: Path, language: str = "en") -> list[str]:
    """What start-up refuses in the content under `tree` (it must refuse something)."""
    with pytest.raises(ContentError) as caught:
        build_core(tree / "content", tree / "flows", language)
    return caught.value.problems


SHARED = ROOT.parent / "shared"
VIGNETTES = SHARED / "vignettes" / "sample.yaml"
SHARED_MISSING = "../shared is not beside the repository (it holds the sample cases); skipping"

_core: Core | None = None


def core() -> Core:
    """The shipped content and flow, built once per test session (it is immutable)."""
    global _core
    if _core is None:
        _core = build_core(ROOT / "content", ROOT / "flows")
    return _core


_reminders_core: Core | None = None


def reminders_core() -> Core:
    """The same, as the Telegram front builds it: a result offers to set reminders."""
    global _reminders_core
    if _reminders_core is None:
        _reminders_core = build_core(ROOT / "content", ROOT / "flows", offer_reminders=True)
    return _reminders_core


@dataclass
class FakeClock:
    """The plan service's clock, moved by the test."""

    moment: datetime

    def now(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


def rows(db: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    """A read-only look at a database file; safe while a bot process is writing to it."""
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def load_vignettes() -> list[dict[str, Any]]:
    with VIGNETTES.open(encoding="utf-8") as handle:
        return list(yaml.safe_load(handle)["vignettes"])


class Walker:
    """Drives the pure engine like one user, keeping the snapshot between inputs."""

    def __init__(self, engine: ConversationEngine | None = None) -> None:
        self.engine = engine or core().engine
        self.snapshot = Snapshot()
        self.plan: Plan | None = None
        self.replies: list[Reply] = []
        self.taps = 0
        self.next_check_id = 1

    def send(self, event: Event) -> Outcome:
        outcome = self.engine.step(self.snapshot, event, self.plan)
        if outcome.plan_change is not None and outcome.plan_change.plan is not None:
            self.plan = outcome.plan_change.plan
        snapshot = outcome.snapshot
        if outcome.new_check:
            from dataclasses import replace

            snapshot = replace(snapshot, check_id=self.next_check_id)
            self.next_check_id += 1
        self.snapshot = snapshot
        self.replies = outcome.replies
        if isinstance(event, Press):
            self.taps += 1
        return outcome

    @property
    def question(self) -> Reply:
        questions = [reply for reply in self.replies if reply.kind is ReplyKind.QUESTION]
        assert questions, f"expected a question, got {[r.text[:60] for r in self.replies]}"
        return questions[-1]

    def press(self, label_or_token: str) -> Outcome:
        """Press a button of the current question by its label (or its token after ':')."""
        for button in self.question.all_buttons:
            if button.label == label_or_token or button.data.split(":", 1)[1] == label_or_token:
                return self.send(Press(button.data))
        raise AssertionError(
            f"no button {label_or_token!r} in {[b.label for b in self.question.all_buttons]}"
        )

    def tap_options(self, option_labels: list[str]) -> Outcome:
        """Toggle each option (one tap each) and press Done; 'None of these' when empty."""
        if not option_labels:
            return self.press("none")
        outcome = None
        for label in option_labels:
            outcome = self.press(label)
        outcome = self.press("ok")
        return outcome


def area_label(area: str) -> str:
    return core().content.messages.text(f"area.{area}")


def flag_label(key: str) -> str:
    """The label of a flag's button (the short one; the question's text has the full one)."""
    return core().content.messages.text(f"flag_short.{key}")


def answer_check(walker: Walker, answers: Mapping[str, Any]) -> Outcome:
    """Answer a whole check from a contract answer set, as a user would (buttons,
    typed duration and age). Returns the outcome that showed the result."""
    content = core().content
    outcome = walker.send(Start())
    for _ in range(40):
        state = walker.snapshot.state
        if state == "result" or outcome.assessment is not None:
            return outcome
        question = content.questions[core().flow.question_of(state or "") or ""]
        if question.id == "consent":
            outcome = walker.press("y")
        elif question.id in ("pain_location", "radiates_to"):
            outcome = walker.tap_options([area_label(a) for a in answers.get(question.id, [])])
        elif question.type == "yes_no" and question.group:
            keys = content.groups[question.group]
            outcome = walker.press("y" if any(answers.get(k) for k in keys) else "n")
        elif question.type == "multi_choice" and question.group:
            keys = content.groups[question.group]
            outcome = walker.tap_options([flag_label(k) for k in keys if answers.get(k)])
        elif question.id == "sitting":
            wanted = {
                "worse_when_sitting": bool(answers.get("worse_when_sitting")),
                "worse_rising_from_chair": bool(answers.get("worse_rising_from_chair")),
            }
            option = next(o for o in question.options if dict(o.sets) == wanted)
            outcome = walker.press(content.messages.text(option.label_key))
        elif question.id == "duration":
            days = max(1, round(float(answers.get("duration_weeks", 1)) * 7))
            outcome = walker.send(Text(f"{days} days"))
        elif question.id == "pain_now":
            outcome = walker.press(f"v{answers.get('pain_now', 3)}")
        elif question.id == "age":
            outcome = walker.send(Text(str(answers.get("age", 35))))
        elif question.id == "sex":
            option = next(o for o in question.options if o.sets["sex"] == answers.get("sex", "X"))
            outcome = walker.press(content.messages.text(option.label_key))
        elif question.id == "activity":
            outcome = walker.press("o2" if answers.get("high_impact_training") else "o0")
        elif question.id == "previously_assessed":
            outcome = walker.press("y" if answers.get("previously_assessed") else "n")
        elif question.id == "anything_else":
            outcome = walker.send(Text(answers["text"])) if answers.get("text") else walker.press("skip")
        else:
            raise AssertionError(f"no rule to answer {question.id}")
    raise AssertionError("the check did not finish in 40 steps")


def select(walker: Walker, labels: list[str]) -> Outcome:
    """Choose several options at once, as the terminal's "1,3" does."""
    data = tuple(b.data for b in walker.question.choices if b.label in labels)
    return walker.send(Select(data))
