"""Check-in rules: how a pain check-in changes the self-care plan.

After the first symptom check gives a routine, the bot asks for pain check-ins
(pain now and worst pain in the last 24 hours, 0-10) and records how sessions
went. `decide` turns that history into one plan decision, using the thresholds
and rules in content/checkin_rules.yaml. The medical choices (how big a change
is meaningful, how many worse check-ins in a row, which check leads to which
action) live in that file; this module only knows how to evaluate the named
checks it offers:

    red_flag            a red flag was found in the latest check-in screen
    worse_in_a_row      the latest `worse_in_a_row` check-ins are all "worse"
    session_pain_high   a recent session "hurt" with pain above `session_pain_above`
    hurt_not_settled    a recent session's hurt had not settled by the next morning
    no_improvement      `no_improvement_weeks` have passed and the latest check-in
                        is not "better" (or there is none)
    latest_better       the latest check-in is "better" than the baseline

Every rule whose check holds fires; the decision's action is the most serious
action among them (red_flag > ease > refer_no_improvement > progress > continue)
and with none, "continue". The file must list every check exactly once, so a
safety check cannot be dropped by deleting a line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.core import yamlfile
from bot.core.answers import Weekday

Action = Literal["red_flag", "ease", "refer_no_improvement", "progress", "continue"]
ACTIONS: tuple[str, ...] = get_args(Action)
"""Every plan action, most serious first."""
REFER_ACTIONS = frozenset({"red_flag", "ease", "refer_no_improvement"})
"""Actions that suggest seeing a professional."""
NO_BALL_ACTIONS = frozenset({"red_flag", "ease"})
"""Actions that withdraw ball release (the gentler plan)."""
Check = Literal[
    "red_flag",
    "worse_in_a_row",
    "session_pain_high",
    "hurt_not_settled",
    "no_improvement",
    "latest_better",
]
CHECKS: tuple[str, ...] = get_args(Check)
"""Every check the rules file must give a rule for (the code evaluates each one)."""
SESSION_OUTCOMES = frozenset({"done", "skipped", "hurt", "snoozed", "missed"})
_LOCAL_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")

Change = Literal["better", "worse", "same"]


class CheckinRulesError(ValueError):
    """content/checkin_rules.yaml is invalid; the message names the file and each key."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid check-in rules:\n  " + "\n  ".join(problems))


# ---------------------------------------------------------------- history


def _check_pain(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10:
        raise ValueError(f"{name} must be a whole number from 0 to 10, got {value!r}")


def _check_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {value!r}")


@dataclass(frozen=True)
class CheckinRecord:
    """One pain check-in."""

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
class PlanHistory:
    """Everything the rules look at: baseline, start, check-ins and sessions."""

    baseline_pain: int  # 0-10
    started_at: datetime
    checkins: tuple[CheckinRecord, ...]  # oldest first
    sessions: tuple[SessionRecord, ...]  # oldest first
    red_flag: bool = False  # a red flag was found in the latest check-in screen

    def __post_init__(self) -> None:
        _check_pain(self.baseline_pain, "PlanHistory.baseline_pain")
        _check_aware(self.started_at, "PlanHistory.started_at")


@dataclass(frozen=True)
class PlanDecision:
    """What to do with the plan after a check-in."""

    action: str  # one of ACTIONS
    reasons: tuple[str, ...]  # rule ids from the YAML that fired, most serious first
    refer: bool  # suggest seeing a professional
    allow_ball_release: bool  # False whenever action is ease or red_flag
    change: str  # "better", "worse", "same": the latest check-in vs baseline


# ---------------------------------------------------------------- rules


@dataclass(frozen=True)
class CheckinRule:
    """One rule from the file: when `check` holds, it fires with `action`."""

    id: str
    check: str
    action: str


@dataclass(frozen=True)
class CheckinSchedule:
    """When check-ins are sent (read by the scheduler, not by `decide`)."""

    day_after_checkin_time: str  # "HH:MM", the person's local time
    weekly_checkin_weekday: str  # mon..sun
    weekly_checkin_time: str  # "HH:MM", the person's local time


@dataclass(frozen=True)
class CheckinRules:
    """The validated content of content/checkin_rules.yaml."""

    change_points: int  # a change of at least this many points is meaningful
    change_percent: int  # ... or of at least this percent of the baseline
    worse_in_a_row: int  # this many latest check-ins all worse -> the check holds
    session_pain_above: int  # a "hurt" session with pain above this is too much
    recent_session_days: int  # session checks look this many days back from now
    no_improvement_weeks: int  # after this long without improvement, refer
    rules: tuple[CheckinRule, ...]  # most serious action first
    schedule: CheckinSchedule


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


class _LocalTimeModel(_Strict):
    local_time: str = Field(pattern=_LOCAL_TIME.pattern)


class _WeeklyModel(_Strict):
    weekday: Weekday
    local_time: str = Field(pattern=_LOCAL_TIME.pattern)


class _FileModel(_Strict):
    schema_version: Literal[1]
    thresholds: _ThresholdsModel
    rules: list[_RuleModel] = Field(min_length=1)
    day_after_checkin: _LocalTimeModel
    weekly_checkin: _WeeklyModel


def _location(parts: tuple[int | str, ...]) -> str:
    text = ".".join(f"[{part}]" if isinstance(part, int) else str(part) for part in parts)
    return text.replace(".[", "[")


def _rule_problems(rules: list[_RuleModel]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    seen_ids: set[str] = set()
    seen_checks: set[str] = set()
    previous_rank = 0
    for index, rule in enumerate(rules):
        where = f"rules[{index}]"
        if rule.id in seen_ids:
            problems.append((f"{where}.id", f"duplicate rule id {rule.id!r}"))
        seen_ids.add(rule.id)
        if rule.check in seen_checks:
            problems.append((f"{where}.check", f"check {rule.check!r} is used by more than one rule"))
        seen_checks.add(rule.check)
        if (rule.check == "red_flag") != (rule.action == "red_flag"):
            problems.append((f"{where}.action", "the red_flag check, and only it, must have action red_flag"))
        rank = ACTIONS.index(rule.action)
        if rank < previous_rank:
            problems.append(
                (f"{where}.action", f"rules must be listed most serious action first ({', '.join(ACTIONS)})")
            )
        previous_rank = max(previous_rank, rank)
    missing = [check for check in CHECKS if check not in seen_checks]
    if missing:
        problems.append(("rules", f"every check needs a rule; missing: {', '.join(missing)}"))
    return problems


def load_checkin_rules(path: Path) -> CheckinRules:
    """Load and validate the check-in rules file.

    Raises CheckinRulesError (a ValueError) whose message names the file and the
    key path of every problem found.
    """
    name = str(path)
    try:
        with path.open(encoding="utf-8") as handle:
            raw: Any = yamlfile.safe_load(handle)
    except FileNotFoundError:
        raise CheckinRulesError([f"{name}: file is missing"]) from None
    except yaml.YAMLError as error:
        raise CheckinRulesError([f"{name}: not valid YAML: {error}"]) from None
    if not isinstance(raw, dict):
        raise CheckinRulesError([f"{name}: expected a mapping at the top level"])
    try:
        model = _FileModel.model_validate(raw)
    except ValidationError as error:
        raise CheckinRulesError(
            [f"{name}: {_location(tuple(detail['loc']))}: {detail['msg']}" for detail in error.errors()]
        ) from None
    problems = _rule_problems(model.rules)
    if problems:
        raise CheckinRulesError([f"{name}: {key}: {problem}" for key, problem in problems])
    thresholds = model.thresholds
    return CheckinRules(
        change_points=thresholds.meaningful_change.points,
        change_percent=thresholds.meaningful_change.percent,
        worse_in_a_row=thresholds.worse_in_a_row,
        session_pain_above=thresholds.session_pain_above,
        recent_session_days=thresholds.recent_session_days,
        no_improvement_weeks=thresholds.no_improvement_weeks,
        rules=tuple(CheckinRule(rule.id, rule.check, rule.action) for rule in model.rules),
        schedule=CheckinSchedule(
            day_after_checkin_time=model.day_after_checkin.local_time,
            weekly_checkin_weekday=model.weekly_checkin.weekday,
            weekly_checkin_time=model.weekly_checkin.local_time,
        ),
    )


# ---------------------------------------------------------------- decisions


def _is_meaningful(baseline: int, delta: int, rules: CheckinRules) -> bool:
    """A change of `delta` points (> 0) from `baseline` is meaningful.

    The percent rule is checked in whole numbers (delta * 100 >= percent * baseline)
    so "exactly 30 %" is not lost to rounding; with a baseline of 0 it never applies.
    """
    if delta <= 0:
        return False
    if delta >= rules.change_points:
        return True
    return baseline > 0 and delta * 100 >= rules.change_percent * baseline


def meaningful_change(baseline: int, value: int, rules: CheckinRules) -> str:
    """Compare one pain score with the baseline: "better", "worse" or "same"."""
    _check_pain(baseline, "baseline")
    _check_pain(value, "value")
    if _is_meaningful(baseline, baseline - value, rules):
        return "better"
    if _is_meaningful(baseline, value - baseline, rules):
        return "worse"
    return "same"


def _recent_sessions(history: PlanHistory, now: datetime, rules: CheckinRules) -> list[SessionRecord]:
    # A session stamped after `now` (clock skew) still counts: when in doubt, ease.
    since = now - timedelta(days=rules.recent_session_days)
    return [session for session in history.sessions if session.at >= since]


def _check_holds(
    check: str, history: PlanHistory, changes: list[str], now: datetime, rules: CheckinRules
) -> bool:
    """Whether one named check holds; `changes` are the check-ins vs baseline, oldest first."""
    latest = changes[-1] if changes else None
    if check == "red_flag":
        return history.red_flag
    if check == "worse_in_a_row":
        streak = changes[-rules.worse_in_a_row :]
        return len(streak) == rules.worse_in_a_row and all(change == "worse" for change in streak)
    if check == "session_pain_high":
        return any(
            session.outcome == "hurt"
            and session.hurt_pain is not None
            and session.hurt_pain > rules.session_pain_above
            for session in _recent_sessions(history, now, rules)
        )
    if check == "hurt_not_settled":
        return any(session.settled_next_morning is False for session in _recent_sessions(history, now, rules))
    if check == "no_improvement":
        long_enough = now - history.started_at >= timedelta(weeks=rules.no_improvement_weeks)
        return long_enough and latest != "better"
    if check == "latest_better":
        return latest == "better"
    raise ValueError(f"unknown check {check!r}")


def decide(history: PlanHistory, now: datetime, rules: CheckinRules) -> PlanDecision:
    """Decide what the plan does next; see content/checkin_rules.yaml for the rules."""
    _check_aware(now, "now")
    checkins = sorted(history.checkins, key=lambda checkin: checkin.at)
    changes = [meaningful_change(history.baseline_pain, checkin.pain_now, rules) for checkin in checkins]
    fired = [rule for rule in rules.rules if _check_holds(rule.check, history, changes, now, rules)]
    # The loader already keeps rules most serious first; sorting again (stable, file order
    # within an action) keeps that true for rules built in code too.
    fired.sort(key=lambda rule: ACTIONS.index(rule.action))
    action = fired[0].action if fired else "continue"
    change = changes[-1] if changes else "same"
    return PlanDecision(
        action=action,
        reasons=tuple(rule.id for rule in fired),
        refer=action in REFER_ACTIONS,
        allow_ball_release=action not in NO_BALL_ACTIONS,
        change=change,
    )
