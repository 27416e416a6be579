"""Routine matching: which routine fits the answers, made safe for this person.

The first rule in content/routine_rules.yaml whose condition holds picks the
routine. Then, whatever was picked, every exercise carrying a tag that an
active contraindication forbids is left out, and the person is told which and
why. That second step is the safety net: a wrong rule can make a routine less
apt, never unsafe.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.core.content import Content, Exercise, Routine
from bot.core.triage import TriageResult, merge_text_findings


@dataclass(frozen=True)
class LeftOut:
    """An exercise taken out of a routine, and the tags that ruled it out."""

    exercise_id: str
    tags: tuple[str, ...]


@dataclass(frozen=True)
class PersonalRoutine:
    """A routine as offered to one person."""

    routine: Routine
    exercises: tuple[Exercise, ...]
    left_out: tuple[LeftOut, ...]

    @property
    def id(self) -> str:
        return self.routine.id


def match_routine(
    answers: Mapping[str, Any], result: TriageResult, content: Content
) -> PersonalRoutine | None:
    """The routine to offer, or None when the urgency calls for no exercises."""
    if not result.offers_routine:
        return None
    context = merge_text_findings(answers, content)
    context["urgency"] = result.urgency
    context["ball_release_allowed"] = result.ball_release_allowed
    for rule in content.routine_rules:
        if rule.applies(context):
            return personalise(content.routines[rule.routine], result, content)
    return None


def personalise(routine: Routine, result: TriageResult, content: Content) -> PersonalRoutine:
    """Drop every exercise whose tags the person's contraindications forbid."""
    kept: list[Exercise] = []
    left_out: list[LeftOut] = []
    forbidden = set(result.forbidden_tags)
    if not result.ball_release_allowed:
        forbidden.add("abdominal_pressure")
    for exercise_id in routine.exercises:
        exercise = content.exercises[exercise_id]
        clash = sorted(exercise.tags & forbidden)
        if clash:
            left_out.append(LeftOut(exercise_id, tuple(clash)))
        else:
            kept.append(exercise)
    return PersonalRoutine(routine, tuple(kept), tuple(left_out))
