"""Triage: from answers to an urgency, the reasons, and whether ball release is safe.

A pure function of the answers and the rules in content/red_flags.yaml and
content/contraindications.yaml; no I/O, no clock, no randomness, so the same
answers always give the same result in every front and in `psoasbot assess`.

Typed text counts like answers, in one direction only: it may raise the urgency
or remove options, never lower the urgency or unlock ball release, and never
overrides an explicit answer in the lowering direction (see
`merge_text_findings`). A negation in the text ("no fever") never overrides an
explicit yes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot.core.answers import BOOLEAN_KEYS, Answers
from bot.core.content import Content
from bot.core.policy import Urgency
from bot.core.understanding import Findings, understand

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


_READ_CACHE_SIZE = 32
_read_cache: dict[tuple[int, str, date], Findings] = {}


def read_text(text: str, content: Content, today: date | None = None) -> Findings:
    """`understand` with a small cache: one step triages the same text several times."""
    day = today or date.today()
    key = (id(content.lexicon), text, day)
    found = _read_cache.get(key)
    if found is None:
        found = understand(text, content.lexicon, day)
        if len(_read_cache) >= _READ_CACHE_SIZE:
            _read_cache.pop(next(iter(_read_cache)))
        _read_cache[key] = found
    return found


def text_flags(findings: Findings, answers: Mapping[str, Any], content: Content) -> set[str]:
    """The yes/no keys typed text turns to yes, under the safety rules of the module docstring.

    A yes the text affirms, or a red flag or contraindication it touches uncertainly
    (which nobody is there to ask), raises; a yes to a protective key (one a rule
    reads under `not`, such as previously_assessed) is taken only where no answer
    was given, and `merge_text_findings` drops it again if it would lower anything.
    """
    added: set[str] = set()
    for key in findings.affirmed | (findings.uncertain & (content.safety_keys - content.protective_keys)):
        if key not in BOOLEAN_KEYS or answers.get(key) is True:
            continue
        explicit = key in answers and answers[key] is not None
        if explicit and (key in content.protective_keys or key not in content.safety_keys):
            continue  # an explicit answer wins where a yes could lower or change the plan
        added.add(key)
    return added


def merge_text_findings(answers: Mapping[str, Any], content: Content) -> Answers:
    """Answers plus what the free text in `text` adds.

    The text may raise the urgency or remove options, never the reverse: it adds
    yeses (see `text_flags`) and fills values nobody gave (age, duration, pain,
    areas, sex); a "no" in the text is never needed, since an unanswered key
    counts as no. If the additions would still leave the result less urgent, or
    allow ball release that the answers alone forbid (a filled value or a
    protective yes could do that under some rule), only the raising yeses are
    kept.
    """
    merged: Answers = dict(answers)
    text = answers.get("text")
    if not isinstance(text, str) or not text.strip():
        return merged
    findings = read_text(text, content)
    added = text_flags(findings, answers, content)
    for key in added:
        merged[key] = True
    for key, value in findings.answers().items():
        if key in BOOLEAN_KEYS:
            continue
        if merged.get(key) in (None, [], ()):
            merged[key] = list(value) if isinstance(value, tuple) else value
    before = _evaluate(answers, content)
    after = _evaluate(merged, content)
    if after.urgency.rank >= before.urgency.rank and not (
        after.ball_release_allowed and not before.ball_release_allowed
    ):
        return merged
    safe: Answers = dict(answers)
    for key in added - content.protective_keys:
        safe[key] = True
    return safe


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
    """Apply every red-flag and contraindication rule to the answers (and their text)."""
    return _evaluate(merge_text_findings(answers, content), content)


def _evaluate(effective: Mapping[str, Any], content: Content) -> TriageResult:
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
