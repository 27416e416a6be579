"""Routine matching: which routine fits the answers, made safe for this person.

The first rule in content/routine_rules.yaml whose condition holds picks the
routine. Then, whatever was picked, every exercise carrying a tag the person must
not be given (a contraindication, or ball work the plan has withdrawn) is left
out, and the person is told which and why. That second step is the safety net: a
wrong rule can make a routine less apt, never unsafe.

What a person is shown always comes from their plan (`plan_routine`): the
plan's routine at the plan's level, minus everything the plan excludes, and
nothing at all while the plan is paused for review.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.core.content import Content, Exercise, Routine
from bot.core.plan.model import Plan
from bot.core.policy import Urgency
from bot.core.triage import merge_text_findings


@dataclass(frozen=True)
class LeftOut:
    """An exercise taken out of a routine, and the tags that ruled it out."""

    exercise_id: str
    tags: tuple[str, ...]


@dataclass(frozen=True)
class PersonalRoutine:
    """A routine as offered to one person, at one level of its progression."""

    routine: Routine
    exercises: tuple[Exercise, ...]
    left_out: tuple[LeftOut, ...]
    level: int = 0

    @property
    def id(self) -> str:
        return self.routine.id

    @property
    def has_next_level(self) -> bool:
        return self.level + 1 < self.routine.level_count


def match_routine(
    answers: Mapping[str, Any], urgency: Urgency, ball_release_allowed: bool, content: Content
) -> str | None:
    """The id of the routine that fits, or None when the urgency calls for no exercises."""
    if not urgency.offers_routine:
        return None
    context = merge_text_findings(answers, content)
    context["urgency"] = urgency.value
    context["ball_release_allowed"] = ball_release_allowed
    for rule in content.routine_rules:
        if rule.applies(context):
            return rule.routine
    return content.plan.default_routine


def personalise(
    routine: Routine, excluded_tags: frozenset[str], content: Content, level: int = 0
) -> PersonalRoutine:
    """The routine at `level`, without every exercise carrying an excluded tag."""
    kept: list[Exercise] = []
    left_out: list[LeftOut] = []
    for exercise_id in routine.exercises_at(level):
        exercise = content.exercises[exercise_id]
        clash = sorted(exercise.tags & excluded_tags)
        if clash:
            left_out.append(LeftOut(exercise_id, tuple(clash)))
        else:
            kept.append(exercise)
    clamped = max(0, min(level, routine.level_count - 1))
    return PersonalRoutine(routine, tuple(kept), tuple(left_out), clamped)


def plan_routine(plan: Plan | None, content: Content) -> PersonalRoutine | None:
    """What the plan allows this person to do now; None when it allows no exercise."""
    if plan is None or not plan.state.offers_exercises:
        return None
    routine = content.routines.get(plan.routine) or content.routines[content.plan.default_routine]
    return personalise(routine, plan.excluded_tags, content, plan.level)
