"""The life of a plan: named events move it between states, and change what it allows.

The states and which event leads where are declared in flows/plan.yaml and run by
one `transitions` machine built at start-up (as the conversation flows are). This
module adds what each event does to the plan's data, which is mechanism: the
routines it falls back on come from content/plan.yaml, the routine a result fits
from content/routine_rules.yaml. Every function here is pure: a plan and an event
in, the next plan and the event record out.

What every event keeps true (the plan's invariants, tested over random histories):
- forbidden tags only grow, and ball work once withdrawn never comes back in the
  same plan life;
- an URGENT or EMERGENCY result or check-in pauses the plan from any state, and
  only "a professional has checked me" leaves the pause (to the eased plan);
- an eased plan runs the eased routine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field
from transitions import Machine

from bot.core.plan.config import PlanConfig
from bot.core.plan.model import PauseReason, Plan, PlanChange, PlanEvent, PlanState
from bot.core.policy import Urgency

EVENTS: Final[tuple[str, ...]] = (
    "assessed_routine",
    "assessed_urgent",
    "eased",
    "referred",
    "improved",
    "progressed",
    "regressed",
    "no_improvement",
    "resumed_after_check",
    "not_yet_checked",
    "ended_by_user",
)
"""Every event the code fires; flows/plan.yaml must give each at least one transition."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _TransitionModel(_Strict):
    trigger: str
    source: list[str] = Field(min_length=1)
    dest: str


class _LifecycleFile(_Strict):
    schema_version: Literal[1]
    name: Literal["plan"]
    initial: Literal["none"]
    states: list[str] = Field(min_length=1)
    transitions: list[_TransitionModel] = Field(min_length=1)


class _Model:
    """The light per-plan model the machine moves (the machine itself is shared)."""

    def __init__(self, state: str) -> None:
        self.state = state


@dataclass(frozen=True)
class Lifecycle:
    """The validated plan machine: which event may move a plan from which state to which."""

    machine: Machine

    def next_state(self, state: PlanState, event: str) -> PlanState | None:
        """Where `event` takes a plan in `state`; None when the event is not allowed there."""
        model = _Model(state.value)
        if not self.machine.events[event].trigger(model):
            return None
        return PlanState(model.state)


def load_lifecycle(raw: Mapping[str, Any], where: str) -> tuple[Lifecycle | None, list[str]]:
    """Build the machine from the parsed flows/plan.yaml; problems name `where` and the key."""
    problems: list[str] = []
    try:
        model = _LifecycleFile.model_validate(raw)
    except ValueError as error:
        return None, [f"{where}: {line}" for line in str(error).splitlines()[1:2]] or [f"{where}: invalid"]
    states = {state.value for state in PlanState}
    if set(model.states) != states or len(model.states) != len(states):
        problems.append(f"{where}: states: must be exactly {sorted(states)}")
    fired: set[str] = set()
    for index, item in enumerate(model.transitions):
        key = f"{where}: transitions[{index}]"
        if item.trigger not in EVENTS:
            problems.append(f"{key}.trigger: unknown event {item.trigger!r} (the code fires {list(EVENTS)})")
        fired.add(item.trigger)
        for source in item.source:
            if source not in states:
                problems.append(f"{key}.source: unknown state {source!r}")
        if item.dest != "=" and item.dest not in states:
            problems.append(f"{key}.dest: unknown state {item.dest!r}")
    for event in EVENTS:
        if event not in fired:
            problems.append(f"{where}: transitions: event {event!r} has no transition")
    # Safety: nothing but a professional's check may take a plan out of "paused".
    for index, item in enumerate(model.transitions):
        if (
            "paused" in item.source
            and item.dest not in ("=", "paused")
            and item.trigger != "resumed_after_check"
        ):
            problems.append(f"{where}: transitions[{index}]: only resumed_after_check may leave 'paused'")
    if problems:
        return None, problems
    machine = Machine(
        model=None,
        initial=None,
        states=model.states,
        transitions=[
            {"trigger": item.trigger, "source": list(item.source), "dest": item.dest}
            for item in model.transitions
        ],
        auto_transitions=False,
        send_event=True,
        ignore_invalid_triggers=True,
    )
    return Lifecycle(machine), []


@dataclass(frozen=True)
class Assessed:
    """A check's result, as the plan needs it."""

    urgency: Urgency
    reasons: tuple[str, ...]
    forbidden_tags: frozenset[str]
    ball_allowed: bool
    """Whether this result alone allows ball work (SELF_CARE, no contraindication)."""
    pain_now: int | None
    source: str = "result"
    """"result" for a symptom check, "checkin" for a red flag reported at a check-in."""


class PlanRules:
    """Applies events to plans: the machine says where to, this says what changes."""

    def __init__(self, lifecycle: Lifecycle, config: PlanConfig) -> None:
        self.lifecycle = lifecycle
        self.config = config

    # ------------------------------------------------------------ results

    def assessed(
        self, plan: Plan | None, result: Assessed, matched_routine: str | None, now: datetime
    ) -> PlanChange:
        """A new result. `matched_routine` is what content/routine_rules.yaml picks for the
        answers with this plan's allowances applied (None when the result offers none)."""
        before = plan.state if plan is not None else PlanState.NONE
        event = "assessed_urgent" if result.urgency.pauses_plan else "assessed_routine"
        after = self.lifecycle.next_state(before, event)
        if after is None:
            return PlanChange(plan)
        new_life = plan is None or before in (PlanState.NONE, PlanState.ENDED)
        pain = result.pain_now
        if new_life or plan is None:
            updated = Plan(
                state=after,
                routine=matched_routine or self.config.default_routine,
                level=0,
                baseline_pain=pain,
                reference_pain=pain,
                reference_at=now,
                started_at=now,
                assessed_ball=result.ball_allowed,
                ball_withdrawn=False,
                forbidden_tags=result.forbidden_tags,
            )
        else:
            routine = plan.routine
            if after is PlanState.ACTIVE and matched_routine is not None:
                routine = matched_routine
            elif after is PlanState.EASED:
                routine = self.config.eased_routine
            updated = plan.but(
                state=after,
                routine=routine,
                level=plan.level if routine == plan.routine else 0,
                reference_pain=pain if pain is not None else plan.reference_pain,
                reference_at=now,
                assessed_ball=result.ball_allowed,
                forbidden_tags=plan.forbidden_tags | result.forbidden_tags,
            )
            if updated.baseline_pain is None:
                updated = updated.but(baseline_pain=pain)
        if after is PlanState.PAUSED:
            pause = plan.paused_for if plan is not None and before is PlanState.PAUSED else None
            if result.urgency.pauses_plan or pause is None:
                pause = PauseReason(result.urgency, result.reasons, result.source)
            updated = updated.but(ball_withdrawn=True, paused_for=pause)
        detail = {"urgency": result.urgency.value, "routine": updated.routine, "source": result.source}
        return self._record(updated, event, before, now, result.reasons, detail)

    # ------------------------------------------------------------ check-ins and sessions

    def eased(
        self, plan: Plan, reasons: tuple[str, ...], latest_pain: int | None, now: datetime
    ) -> PlanChange:
        """A check-in rule or a painful session: the gentle routine, and no ball work again."""
        after = self.lifecycle.next_state(plan.state, "eased")
        if after is None:
            return PlanChange(plan)
        updated = plan.but(
            state=after,
            routine=self.config.eased_routine,
            level=0,
            ball_withdrawn=True,
            reference_pain=latest_pain if latest_pain is not None else plan.reference_pain,
            reference_at=now,
        )
        return self._record(updated, "eased", plan.state, now, reasons, {"routine": updated.routine})

    def referred(self, plan: Plan, reasons: tuple[str, ...], now: datetime) -> PlanChange:
        """Eased already and worse again: pause until a professional has checked."""
        after = self.lifecycle.next_state(plan.state, "referred")
        if after is None:
            return PlanChange(plan)
        updated = plan.but(
            state=after,
            ball_withdrawn=True,
            paused_for=PauseReason(Urgency.ROUTINE, reasons, "referral"),
            reference_at=now,
        )
        return self._record(updated, "referred", plan.state, now, reasons, {})

    def improved(
        self, plan: Plan, reasons: tuple[str, ...], latest_pain: int | None, now: datetime
    ) -> PlanChange:
        """Meaningful improvement: recorded, and the reference moves to the latest pain, so the
        same improvement is not celebrated (or offered a next step) twice."""
        after = self.lifecycle.next_state(plan.state, "improved")
        if after is None:
            return PlanChange(plan)
        updated = plan.but(
            reference_pain=latest_pain if latest_pain is not None else plan.reference_pain, reference_at=now
        )
        detail = {"from_pain": plan.reference_pain, "to_pain": updated.reference_pain}
        return self._record(updated, "improved", plan.state, now, reasons, detail)

    def progressed(
        self, plan: Plan, levels: int, reasons: tuple[str, ...], latest_pain: int | None, now: datetime
    ) -> PlanChange:
        """The routine's next step (`levels` is how many steps the routine has, 1 = none beyond
        the first), taken after improvement or because the person asked."""
        after = self.lifecycle.next_state(plan.state, "progressed")
        if after is None or plan.level + 1 >= levels:
            return PlanChange(plan)
        level = plan.level + 1
        updated = plan.but(
            level=level,
            reference_pain=latest_pain if latest_pain is not None else plan.reference_pain,
            reference_at=now,
        )
        detail = {"routine": plan.routine, "level": level, "from_level": plan.level}
        return self._record(updated, "progressed", plan.state, now, reasons, detail)

    def regressed(self, plan: Plan, now: datetime) -> PlanChange:
        after = self.lifecycle.next_state(plan.state, "regressed")
        if after is None or plan.level == 0:
            return PlanChange(plan)
        updated = plan.but(level=plan.level - 1, reference_at=now)
        detail = {"routine": plan.routine, "level": updated.level, "from_level": plan.level}
        return self._record(updated, "regressed", plan.state, now, (), detail)

    def no_improvement(self, plan: Plan, reasons: tuple[str, ...], now: datetime) -> PlanChange:
        after = self.lifecycle.next_state(plan.state, "no_improvement")
        if after is None:
            return PlanChange(plan)
        return self._record(plan.but(last_referral_at=now), "no_improvement", plan.state, now, reasons, {})

    # ------------------------------------------------------------ the person

    def resumed(self, plan: Plan, checked: bool, now: datetime) -> PlanChange:
        """After a pause: "a professional has checked me" (checked) restarts the plan gently;
        "not yet" keeps it paused. Either answer is recorded."""
        event = "resumed_after_check" if checked else "not_yet_checked"
        after = self.lifecycle.next_state(plan.state, event)
        if after is None:
            return PlanChange(plan)
        updated = plan
        if checked:
            updated = plan.but(
                state=after,
                routine=self.config.eased_routine,
                level=0,
                ball_withdrawn=True,
                paused_for=None,
                reference_at=now,
            )
        detail = {"checked_by_professional": checked}
        return self._record(updated, event, plan.state, now, (), detail)

    def ended(self, plan: Plan, now: datetime) -> PlanChange:
        after = self.lifecycle.next_state(plan.state, "ended_by_user")
        if after is None:
            return PlanChange(plan)
        return self._record(plan.but(state=after), "ended_by_user", plan.state, now, (), {})

    # ------------------------------------------------------------ the record

    @staticmethod
    def _record(
        after: Plan,
        event: str,
        from_state: PlanState,
        now: datetime,
        reasons: tuple[str, ...],
        detail: Mapping[str, Any],
    ) -> PlanChange:
        return PlanChange(after, PlanEvent(now, event, from_state, after.state, reasons, dict(detail)))
