"""Check-in rules: how pain check-ins and sessions change the plan.

After a routine is offered, the bot asks for pain check-ins (pain now and worst
pain in the last 24 hours, 0-10) and records how sessions went. `decide` turns
that evidence into one decision, with the thresholds and the rule table in
content/checkin_rules.yaml. The medical choices (how big a change is meaningful,
how many worse check-ins in a row, which check leads to which action in which
plan state) live in that file; this module only evaluates the named checks:

    red_flag            a red flag was reported at this check-in
    worse_in_a_row      the latest `worse_in_a_row` check-ins are all "worse"
    worse_latest        the latest check-in is "worse"
    session_pain_high   a recent session "hurt" with pain above `session_pain_above`
    hurt_not_settled    a recent session's hurt had not settled by the next morning
    no_improvement      `no_improvement_weeks` have passed (since the start, or since this
                        was last said) and the latest check-in is not "better" than the baseline
    latest_better       the latest check-in is "better"

The rules converge: each piece of evidence is used once. Check-ins and sessions
from before the plan's `reference_at` (the last time the plan eased, progressed
or was re-assessed) were judged already and are not looked at again, and "better"
and "worse" compare with the plan's `reference_pain` (the pain at that moment),
not with the very first check. So after an ease, improvement is recognised and
leads to encouragement and the next step, and an ease never repeats without new
evidence.

Every rule whose check holds in the plan's state fires; the decision's action is
the most serious among them (red_flag > refer > ease > refer_no_improvement >
progress > continue), and only the rules with that action are given as reasons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.core import yamlfile
from bot.core.plan.model import PlanState

Action = Literal["red_flag", "refer", "ease", "refer_no_improvement", "progress", "continue"]
ACTIONS: tuple[str, ...] = get_args(Action)
"""Every decision, most serious first."""
Check = Literal[
    "red_flag",
    "worse_in_a_row",
    "worse_latest",
    "session_pain_high",
    "hurt_not_settled",
    "no_improvement",
    "latest_better",
]
CHECKS: tuple[str, ...] = get_args(Check)
"""Every check; each must be used by at least one rule."""
SAFETY_CHECKS: tuple[str, ...] = ("red_flag", "session_pain_high", "hurt_not_settled", "no_improvement")
"""Checks every judged state must have a rule for, so a safety check cannot be dropped by
deleting a line (and at least one of WORSENING_CHECKS too)."""
WORSENING_CHECKS: tuple[str, ...] = ("worse_in_a_row", "worse_latest")
JUDGED_STATES: tuple[PlanState, ...] = (PlanState.ACTIVE, PlanState.EASED)
"""The states check-ins are judged in (a paused or ended plan sends no check-ins)."""
SESSION_OUTCOMES = frozenset({"done", "skipped", "hurt", "snoozed", "missed"})

Change = Literal["better", "worse", "same"]


class CheckinRulesError(ValueError):
    """content/checkin_rules.yaml is invalid; the message names the file and each key."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid check-in rules:\n  " + "\n  ".join(problems))


# ---------------------------------------------------------------- evidence


def _check_pain(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10:
        raise ValueError(f"{name} must be a whole number from 0 to 10, got {value!r}")


def _check_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


@dataclass(frozen=True)
class CheckinRecord:
    """One answered pain check-in."""

    at: datetime  # aware UTC
    pain_now: int  # 0-10
    pain_worst_24h: int  # 0-10

    def __post_init__(self) -> None:
        _check_aware(self.at, "CheckinRecord.at")
        _check_pain(self.pain_now, "CheckinRecord.pain_now")
        _check_pain(self.pain_worst_24h, "CheckinRecord.pain_worst_24h")


@dataclass(frozen=True)
class SessionRecord:
    """One routine session and how it went."""

    at: datetime
    outcome: str  # "done", "skipped", "hurt", "snoozed", "missed"
    hurt_pain: int | None = None  # 0-10 when outcome == "hurt"
    hurt_settled: bool | None = None  # answer at the time ("has it settled?")
    settled_next_morning: bool | None = None  # from the next-morning check-in, when asked

    def __post_init__(self) -> None:
        _check_aware(self.at, "SessionRecord.at")
        if self.outcome not in SESSION_OUTCOMES:
            raise ValueError(
                f"SessionRecord.outcome must be one of {sorted(SESSION_OUTCOMES)}, got {self.outcome!r}"
            )
        if self.hurt_pain is not None:
            _check_pain(self.hurt_pain, "SessionRecord.hurt_pain")


@dataclass(frozen=True)
class Evidence:
    """Everything the rules look at for one plan."""

    state: PlanState
    baseline_pain: int  # the first check's pain now (0-10)
    reference_pain: int  # what "better" and "worse" compare with now
    started_at: datetime
    reference_at: datetime  # evidence before this was judged already
    checkins: tuple[CheckinRecord, ...]  # oldest first
    sessions: tuple[SessionRecord, ...]  # oldest first
    red_flag: bool = False  # a red flag was reported at this check-in
    last_referral_at: datetime | None = None  # when no_improvement last fired

    def __post_init__(self) -> None:
        _check_pain(self.baseline_pain, "Evidence.baseline_pain")
        _check_pain(self.reference_pain, "Evidence.reference_pain")
        _check_aware(self.started_at, "Evidence.started_at")
        _check_aware(self.reference_at, "Evidence.reference_at")


@dataclass(frozen=True)
class PlanDecision:
    """What to do with the plan after a check-in or a painful session."""

    action: str  # one of ACTIONS
    reasons: tuple[str, ...]  # ids of the rules that fired with that action, in file order
    change: str  # "better", "worse", "same": the latest new check-in vs the reference

    @property
    def refers(self) -> bool:
        """Whether a professional is suggested."""
        return self.action in ("red_flag", "refer", "ease", "refer_no_improvement")


# ---------------------------------------------------------------- rules


@dataclass(frozen=True)
class CheckinRule:
    """One row of the table: when `check` holds in one of `states`, the rule fires with `action`."""

    id: str
    check: str
    action: str
    states: tuple[PlanState, ...]


@dataclass(frozen=True)
class CheckinRules:
    """The validated content of content/checkin_rules.yaml."""

    change_points: int  # a change of at least this many points is meaningful
    change_percent: int  # ... or of at least this percent of the reference
    worse_in_a_row: int  # this many latest check-ins all worse -> the check holds
    session_pain_above: int  # a "hurt" session with pain above this is too much
    recent_session_days: int  # session checks look this many days back from now
    no_improvement_weeks: int  # after this long without improvement, refer
    rules: tuple[CheckinRule, ...]  # most serious action first


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class _MeaningfulChangeModel(_Strict):
    points: int = Field(ge=1, le=10)
    percent: int = Field(ge=1, le=100)


class _ThresholdsModel(_Strict):
    meaningful_change: _MeaningfulChangeModel
    worse_in_a_row: int = Field(ge=1, le=10)
    session_pain_above: int = Field(ge=0, le=9)
    recent_session_days: int = Field(ge=1, le=60)
    no_improvement_weeks: int = Field(ge=1, le=104)


class _RuleModel(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    check: Check
    action: Action
    states: list[Literal["active", "eased"]] = Field(default=["active", "eased"], min_length=1)


class _FileModel(_Strict):
    schema_version: Literal[2]
    thresholds: _ThresholdsModel
    rules: list[_RuleModel] = Field(min_length=1)


def _location(parts: tuple[int | str, ...]) -> str:
    text = ".".join(f"[{part}]" if isinstance(part, int) else str(part) for part in parts)
    return text.replace(".[", "[")


def _rule_problems(rules: list[_RuleModel]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    seen_ids: set[str] = set()
    seen_pairs: set[tuple[str, str]] = set()
    previous_rank = 0
    for index, rule in enumerate(rules):
        where = f"rules[{index}]"
        if rule.id in seen_ids:
            problems.append((f"{where}.id", f"duplicate rule id {rule.id!r}"))
        seen_ids.add(rule.id)
        for state in rule.states:
            if (rule.check, state) in seen_pairs:
                problems.append((f"{where}.states", f"check {rule.check!r} already has a rule in {state!r}"))
            seen_pairs.add((rule.check, state))
        if (rule.check == "red_flag") != (rule.action == "red_flag"):
            problems.append((f"{where}.action", "the red_flag check, and only it, must have action red_flag"))
        rank = ACTIONS.index(rule.action)
        if rank < previous_rank:
            problems.append(
                (f"{where}.action", f"rules must be listed most serious action first ({', '.join(ACTIONS)})")
            )
        previous_rank = max(previous_rank, rank)
    for check in CHECKS:
        missing = [s.value for s in JUDGED_STATES if (check, s.value) not in seen_pairs]
        if check in SAFETY_CHECKS and missing:
            problems.append(
                ("rules", f"the safety check {check!r} needs a rule in every state; missing: {missing}")
            )
        elif len(missing) == len(JUDGED_STATES):
            problems.append(("rules", f"every check needs a rule; {check!r} has none"))
    for judged in JUDGED_STATES:
        if not any((check, judged.value) in seen_pairs for check in WORSENING_CHECKS):
            needed = ", ".join(WORSENING_CHECKS)
            problems.append(("rules", f"state {judged.value!r} needs a rule for getting worse ({needed})"))
    return problems


def load_checkin_rules(path: Path, name: str | None = None) -> CheckinRules:
    """Load and validate the check-in rules file.

    Raises CheckinRulesError (a ValueError) whose message names the file and the
    key path of every problem found.
    """
    where = name or str(path)
    try:
        with path.open(encoding="utf-8") as handle:
            raw: Any = yamlfile.safe_load(handle)
    except FileNotFoundError:
        raise CheckinRulesError([f"{where}: file is missing"]) from None
    except yaml.YAMLError as error:
        raise CheckinRulesError([f"{where}: not valid YAML: {error}"]) from None
    if not isinstance(raw, dict):
        raise CheckinRulesError([f"{where}: expected a mapping at the top level"])
    try:
        model = _FileModel.model_validate(raw)
    except ValidationError as error:
        raise CheckinRulesError(
            [f"{where}: {_location(tuple(detail['loc']))}: {detail['msg']}" for detail in error.errors()]
        ) from None
    problems = _rule_problems(model.rules)
    if problems:
        raise CheckinRulesError([f"{where}: {key}: {problem}" for key, problem in problems])
    thresholds = model.thresholds
    return CheckinRules(
        change_points=thresholds.meaningful_change.points,
        change_percent=thresholds.meaningful_change.percent,
        worse_in_a_row=thresholds.worse_in_a_row,
        session_pain_above=thresholds.session_pain_above,
        recent_session_days=thresholds.recent_session_days,
        no_improvement_weeks=thresholds.no_improvement_weeks,
        rules=tuple(
            CheckinRule(rule.id, rule.check, rule.action, tuple(PlanState(state) for state in rule.states))
            for rule in model.rules
        ),
    )


# ---------------------------------------------------------------- decisions


def _is_meaningful(reference: int, delta: int, rules: CheckinRules) -> bool:
    """A change of `delta` points (> 0) from `reference` is meaningful.

    The percent rule is checked in whole numbers (delta * 100 >= percent * reference)
    so "exactly 30 %" is not lost to rounding; with a reference of 0 it never applies.
    """
    if delta <= 0:
        return False
    if delta >= rules.change_points:
        return True
    return reference > 0 and delta * 100 >= rules.change_percent * reference


def meaningful_change(reference: int, value: int, rules: CheckinRules) -> str:
    """Compare one pain score with a reference: "better", "worse" or "same"."""
    _check_pain(reference, "reference")
    _check_pain(value, "value")
    if _is_meaningful(reference, reference - value, rules):
        return "better"
    if _is_meaningful(reference, value - reference, rules):
        return "worse"
    return "same"


def _recent_sessions(evidence: Evidence, now: datetime, rules: CheckinRules) -> list[SessionRecord]:
    # A session stamped after `now` (clock skew) still counts: when in doubt, ease.
    since = max(now - timedelta(days=rules.recent_session_days), evidence.reference_at)
    return [session for session in evidence.sessions if session.at >= since]


def _check_holds(
    check: str,
    evidence: Evidence,
    changes: Sequence[str],
    now: datetime,
    rules: CheckinRules,
) -> bool:
    """Whether one named check holds; `changes` are the new check-ins vs the reference, oldest first."""
    latest = changes[-1] if changes else None
    if check == "red_flag":
        return evidence.red_flag
    if check == "worse_in_a_row":
        streak = changes[-rules.worse_in_a_row :]
        return len(streak) == rules.worse_in_a_row and all(change == "worse" for change in streak)
    if check == "worse_latest":
        return latest == "worse"
    if check == "session_pain_high":
        return any(
            session.outcome == "hurt"
            and session.hurt_pain is not None
            and session.hurt_pain > rules.session_pain_above
            for session in _recent_sessions(evidence, now, rules)
        )
    if check == "hurt_not_settled":
        return any(
            session.settled_next_morning is False for session in _recent_sessions(evidence, now, rules)
        )
    if check == "no_improvement":
        since = max(evidence.started_at, evidence.last_referral_at or evidence.started_at)
        long_enough = now - since >= timedelta(weeks=rules.no_improvement_weeks)
        last = evidence.checkins[-1] if evidence.checkins else None
        improved = (
            last is not None and meaningful_change(evidence.baseline_pain, last.pain_now, rules) == "better"
        )
        return long_enough and not improved
    if check == "latest_better":
        return latest == "better"
    raise ValueError(f"unknown check {check!r}")


def decide(evidence: Evidence, now: datetime, rules: CheckinRules) -> PlanDecision:
    """Decide what the plan does next; see content/checkin_rules.yaml for the rules."""
    _check_aware(now, "now")
    fresh = [checkin for checkin in evidence.checkins if checkin.at >= evidence.reference_at]
    changes = [meaningful_change(evidence.reference_pain, checkin.pain_now, rules) for checkin in fresh]
    fired = [
        rule
        for rule in rules.rules
        if evidence.state in rule.states and _check_holds(rule.check, evidence, changes, now, rules)
    ]
    action = min((rule.action for rule in fired), key=ACTIONS.index, default="continue")
    return PlanDecision(
        action=action,
        reasons=tuple(rule.id for rule in fired if rule.action == action),
        change=changes[-1] if changes else "same",
    )
