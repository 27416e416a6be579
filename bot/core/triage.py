"""Triage: from answers to an urgency, the reasons, and whether ball release is safe.

A pure function of the answers and the rules in content/red_flags.yaml and
content/contraindications.yaml; no I/O, no clock, no randomness, so the same
answers always give the same result in every front and in `psoasbot assess`.

Typed text counts like answers: whatever red flags it affirms are added, and a
negation in the text ("no fever") never overrides an explicit yes. Adding a
yes to any answer can only keep or raise the urgency, because the result is the
most urgent matching rule and no rule asks for a red flag to be absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.core.answers import BOOLEAN_KEYS, Answers
from bot.core.content import Content
from bot.core.policy import Urgency
from bot.core.understanding import understand

ABDOMINAL_PRESSURE = "abdominal_pressure"


@dataclass(frozen=True)
class TriageResult:
    """What the answers call for. `reasons` are content ids, most urgent first."""

    urgency: Urgency
    reasons: tuple[str, ...]
    contraindications: tuple[str, ...]
    forbidden_tags: frozenset[str]

    @property
    def ball_release_allowed(self) -> bool:
        """Abdominal pressure only for self-care with no contraindication."""
        return self.urgency.allows_ball_release and ABDOMINAL_PRESSURE not in self.forbidden_tags

    @property
    def offers_routine(self) -> bool:
        return self.urgency.offers_routine

    def at_least(self, urgency: Urgency) -> bool:
        return self.urgency.at_least(urgency)


def merge_text_findings(answers: Mapping[str, Any], content: Content) -> Answers:
    """Answers plus what the free text in `text` adds.

    Structured answers win for values (age, pain, areas); the text can only add
    a yes to a yes/no key, or fill a value nobody gave.
    """
    merged: Answers = dict(answers)
    text = answers.get("text")
    if not isinstance(text, str) or not text.strip():
        return merged
    findings = understand(text, content.lexicon)
    for key, affirmed in findings.flags.items():
        if affirmed and key in BOOLEAN_KEYS:
            merged[key] = True
    for key, value in findings.answers().items():
        if key in BOOLEAN_KEYS:
            continue
        if merged.get(key) in (None, [], ()):
            merged[key] = list(value) if isinstance(value, tuple) else value
    return merged


def is_emergency(answers: Mapping[str, Any], content: Content) -> bool:
    """Exactly `triage(answers, content).urgency == "EMERGENCY"`, for less.

    Triage's urgency is that of the most urgent matching rule and EMERGENCY is the
    top one, so only the emergency rules need checking. The engine asks this after
    every answer (to stop the questions at once), where a full triage was a fifth
    of a step; tests/test_storage_speed_path.py checks the two agree on thousands of
    random answer sets. Kept beside `triage` so the two change together.
    """
    effective = merge_text_findings(answers, content)
    return any(rule.applies(effective) for rule in content.red_flags if rule.urgency is Urgency.EMERGENCY)


def triage(answers: Mapping[str, Any], content: Content) -> TriageResult:
    """Apply every red-flag and contraindication rule to the answers."""
    effective = merge_text_findings(answers, content)
    matched = [rule for rule in content.red_flags if rule.applies(effective)]
    matched.sort(key=lambda rule: -rule.urgency.rank)
    urgency = matched[0].urgency if matched else Urgency.SELF_CARE
    active = [item for item in content.contraindications if item.applies(effective)]
    forbidden = frozenset(tag for item in active for tag in item.forbids)
    return TriageResult(
        urgency=urgency,
        reasons=tuple(rule.id for rule in matched),
        contraindications=tuple(item.id for item in active),
        forbidden_tags=forbidden,
    )
