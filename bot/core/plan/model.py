"""The plan: what one person may do now, and how it came to be so.

A plan exists from a person's first result onwards. It is the one source of truth
for every screen that shows exercises (the result, /routine, the reminder card,
Show the steps, the summary): each renders from the current plan, never from the
first check's result.

What the plan withdraws stays withdrawn for its whole life:
- `forbidden_tags` only ever grows (a contraindication from any check stays);
- `ball_withdrawn` never turns back to False (after an ease, a pause or a
  contraindication, ball pressure on the belly is not offered again);
- while `state` is paused for review, no exercise is offered at all.
A plan's life ends only when the person ends it (or /forget); a new check after
that starts a new life, screened afresh.

`assessed_ball` is different: it is whether the *latest* result allows ball work
(SELF_CARE with no contraindication). A ROUTINE result sets it to False for now;
a later SELF_CARE result may set it back, because nothing was withdrawn for safety.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.core.policy import Urgency

ABDOMINAL_PRESSURE = "abdominal_pressure"


class PlanState(StrEnum):
    """The states of a plan's life (flows/plan.yaml declares the transitions between them)."""

    NONE = "none"
    """No plan yet (no result so far): nothing to show."""
    ACTIVE = "active"
    EASED = "eased"
    """A check-in or a session showed the routine did not agree: the gentle routine, no ball work."""
    PAUSED = "paused"
    """Paused for review after an URGENT or EMERGENCY result or a red flag: no exercise at all."""
    ENDED = "ended"
    """The person ended the plan; a new check starts a new one."""

    @property
    def offers_exercises(self) -> bool:
        return self in (PlanState.ACTIVE, PlanState.EASED, PlanState.ENDED)

    @property
    def sends_reminders(self) -> bool:
        return self in (PlanState.ACTIVE, PlanState.EASED)


@dataclass(frozen=True)
class PauseReason:
    """Why a plan was paused for review: the urgency and the content ids that caused it."""

    urgency: Urgency
    reasons: tuple[str, ...]
    """Red-flag rule ids (from a result) or check-in rule ids (from a referral)."""
    source: str
    """"result" (a check's result), "checkin" (a red flag at a check-in) or "referral"."""


@dataclass(frozen=True)
class Plan:
    """One person's current plan, as stored."""

    state: PlanState
    routine: str
    level: int
    """The step of the routine's progression (0 = the routine as first offered)."""
    baseline_pain: int | None
    """Pain now (0-10) at the check this plan life started with."""
    reference_pain: int | None
    """What check-ins are compared with: the baseline, reset when the plan eases or progresses."""
    reference_at: datetime
    """Check-ins and sessions before this moment were judged already (evidence is used once)."""
    started_at: datetime
    assessed_ball: bool
    ball_withdrawn: bool
    forbidden_tags: frozenset[str]
    paused_for: PauseReason | None = None
    last_referral_at: datetime | None = None
    """When "no improvement after N weeks" last suggested a professional (so it is said once per N weeks)."""

    @property
    def ball_allowed(self) -> bool:
        return (
            self.assessed_ball and not self.ball_withdrawn and ABDOMINAL_PRESSURE not in self.forbidden_tags
        )

    @property
    def excluded_tags(self) -> frozenset[str]:
        """Every exercise tag this person must not be given."""
        return self.forbidden_tags if self.ball_allowed else self.forbidden_tags | {ABDOMINAL_PRESSURE}

    def but(self, **changes: Any) -> Plan:
        return replace(self, **changes)


@dataclass(frozen=True)
class PlanEvent:
    """One change of the plan, with its cause: shown in the summary, kept as history."""

    at: datetime
    event: str
    """The named event (a trigger of flows/plan.yaml), e.g. "eased" or "assessed_urgent"."""
    from_state: PlanState
    to_state: PlanState
    reasons: tuple[str, ...] = ()
    """Content ids of what caused it: red-flag rules, check-in rules, contraindications."""
    detail: Mapping[str, Any] = field(default_factory=dict)
    """Anything else worth keeping, e.g. {"routine": ..., "checked_by_professional": false}."""


@dataclass(frozen=True)
class PlanChange:
    """A plan after one event, and the event to record (None when nothing changed)."""

    plan: Plan | None
    event: PlanEvent | None = None
