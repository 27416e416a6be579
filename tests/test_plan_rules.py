"""Check-in rules: how pain check-ins and sessions change the plan.

Each row is a small story about one person, told against the shipped
content/checkin_rules.yaml (meaningful change = 2 points or 30 % of the baseline,
two worse check-ins in a row, session pain above 5, 7 days of sessions, 6 weeks).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.core.plan.model import PlanState
from bot.core.plan.rules import (
    CheckinRecord,
    CheckinRules,
    Evidence,
    SessionRecord,
    decide,
    load_checkin_rules,
    meaningful_change,
)

RULES_FILE = Path(__file__).resolve().parents[1] / "content" / "checkin_rules.yaml"
START = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
TWO_WEEKS = timedelta(days=14)
SIX_WEEKS = timedelta(weeks=6)
DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def rules() -> CheckinRules:
    return load_checkin_rules(RULES_FILE)


def evidence(
    baseline: int,
    checkins: tuple[CheckinRecord, ...],
    sessions: tuple[SessionRecord, ...],
    *,
    red_flag: bool = False,
    state: PlanState = PlanState.ACTIVE,
    reference: int | None = None,
    reference_at: datetime = START,
) -> Evidence:
    """An active plan that started at START (its reference is the baseline unless given)."""
    return Evidence(
        state=state,
        baseline_pain=baseline,
        reference_pain=baseline if reference is None else reference,
        started_at=START,
        reference_at=reference_at,
        checkins=tuple(sorted(checkins, key=lambda checkin: checkin.at)),
        sessions=sessions,
        red_flag=red_flag,
    )


def checkins(*pains: int, first_day: int = 3) -> tuple[CheckinRecord, ...]:
    """Check-ins with these pain_now scores, one every 3 days from `first_day`."""
    return tuple(
        CheckinRecord(
            at=START + timedelta(days=first_day + 3 * i), pain_now=pain, pain_worst_24h=min(pain + 1, 10)
        )
        for i, pain in enumerate(pains)
    )


def hurt(ago: timedelta, pain: int, settled_next_morning: bool | None = None) -> SessionRecord:
    return SessionRecord(
        at=START + TWO_WEEKS - ago,
        outcome="hurt",
        hurt_pain=pain,
        hurt_settled=False,
        settled_next_morning=settled_next_morning,
    )


Scenario = tuple[str, int, tuple[int, ...], tuple[SessionRecord, ...], bool, timedelta, tuple[Any, ...]]

# Each row: story, baseline, check-in pain scores, sessions, red flag, time since start,
#           expected (action, reasons (only the rules with that action), refers, change).
# The plan is active and has not changed since it started (the reference is the baseline).
DECISIONS: list[Scenario] = [
    ("just started, no check-in yet: keep going", 5, (), (), False, TWO_WEEKS,
     ("continue", (), False, "same")),
    ("pain unchanged at 5: keep going", 5, (5,), (), False, TWO_WEEKS,
     ("continue", (), False, "same")),
    ("6 down to 4, exactly 2 points better: progress", 6, (4,), (), False, TWO_WEEKS,
     ("progress", ("meaningful_improvement",), False, "better")),
    ("6 down to 5, one point (17 %): not yet meaningful", 6, (5,), (), False, TWO_WEEKS,
     ("continue", (), False, "same")),
    ("3 down to 2, one point but 33 %: progress", 3, (2,), (), False, TWO_WEEKS,
     ("progress", ("meaningful_improvement",), False, "better")),
    ("was better before, back to baseline now: only the latest counts", 6, (3, 6), (), False, TWO_WEEKS,
     ("continue", (), False, "same")),
    ("4 up to 6 once: worse, but not twice in a row yet", 4, (6,), (), False, TWO_WEEKS,
     ("continue", (), False, "worse")),
    ("4 up to 6 on two check-ins in a row: ease and refer", 4, (6, 6), (), False, TWO_WEEKS,
     ("ease", ("worse_two_in_a_row",), True, "worse")),
    ("worse, then better, then worse: the better one resets the count", 4, (6, 2, 6), (), False, TWO_WEEKS,
     ("continue", (), False, "worse")),
    ("worse, then back to baseline, then worse: also reset", 4, (6, 4, 7), (), False, TWO_WEEKS,
     ("continue", (), False, "worse")),
    ("better at first, then two worse in a row: ease", 4, (2, 6, 7), (), False, TWO_WEEKS,
     ("ease", ("worse_two_in_a_row",), True, "worse")),
    ("3 up to 4 twice, one point but 33 %: ease", 3, (4, 4), (), False, TWO_WEEKS,
     ("ease", ("worse_two_in_a_row",), True, "worse")),
    ("baseline 0, pain 1 twice: 30 % of 0 does not apply, so not worse", 0, (1, 1), (), False, TWO_WEEKS,
     ("continue", (), False, "same")),
    ("baseline 0, pain 2 twice: the 2-point rule still applies", 0, (2, 2), (), False, TWO_WEEKS,
     ("ease", ("worse_two_in_a_row",), True, "worse")),
    ("baseline 0, still 0: better is impossible", 0, (0,), (), False, TWO_WEEKS,
     ("continue", (), False, "same")),
    ("baseline 10, still 10 twice: worse is impossible", 10, (10, 10), (), False, TWO_WEEKS,
     ("continue", (), False, "same")),
    ("baseline 10 down to 8: progress", 10, (8,), (), False, TWO_WEEKS,
     ("progress", ("meaningful_improvement",), False, "better")),
    ("a session hurt at 6/10 two days ago: ease", 5, (5,), (hurt(2 * DAY, 6),), False, TWO_WEEKS,
     ("ease", ("session_pain_high",), True, "same")),
    ("a session hurt at exactly 5/10: not above 5", 5, (5,), (hurt(2 * DAY, 5),), False, TWO_WEEKS,
     ("continue", (), False, "same")),
    ("a session hurt at 6/10 exactly 7 days ago: still counts", 5, (5,), (hurt(7 * DAY, 6),), False,
     TWO_WEEKS, ("ease", ("session_pain_high",), True, "same")),
    ("a session hurt at 6/10 eight days ago: too long ago", 5, (5,), (hurt(8 * DAY, 6),), False, TWO_WEEKS,
     ("continue", (), False, "same")),
    ("a session hurt at 7/10, stamped an hour after now by a skewed clock: still counts", 5, (5,),
     (hurt(-timedelta(hours=1), 7),), False, TWO_WEEKS,
     ("ease", ("session_pain_high",), True, "same")),
    ("a mild hurt that had not settled by next morning: ease", 5, (5,), (hurt(DAY, 3, False),), False,
     TWO_WEEKS, ("ease", ("hurt_not_settled",), True, "same")),
    ("a mild hurt that settled by next morning: keep going", 5, (5,), (hurt(DAY, 3, True),), False,
     TWO_WEEKS, ("continue", (), False, "same")),
    ("a mild hurt, next morning not asked yet: keep going", 5, (5,), (hurt(DAY, 3, None),), False,
     TWO_WEEKS, ("continue", (), False, "same")),
    ("unsettled hurt nine days ago: too long ago", 5, (5,), (hurt(9 * DAY, 3, False),), False, TWO_WEEKS,
     ("continue", (), False, "same")),
    ("better by 3 points but a session hurt at 7/10: ease beats progress", 6, (3,), (hurt(DAY, 7),), False,
     TWO_WEEKS, ("ease", ("session_pain_high",), True, "better")),
    ("same pain at 6 weeks minus a day: not yet", 5, (5,), (), False, SIX_WEEKS - DAY,
     ("continue", (), False, "same")),
    ("same pain at exactly 6 weeks: suggest a professional", 5, (5,), (), False, SIX_WEEKS,
     ("refer_no_improvement", ("no_improvement_six_weeks",), True, "same")),
    ("better at exactly 6 weeks: progress, no referral", 5, (3,), (), False, SIX_WEEKS,
     ("progress", ("meaningful_improvement",), False, "better")),
    ("no check-in at all by 6 weeks: nothing shows improvement, refer", 5, (), (), False, SIX_WEEKS,
     ("refer_no_improvement", ("no_improvement_six_weeks",), True, "same")),
    ("better earlier, same at 7 weeks: no meaningful improvement now", 6, (3, 5), (), False,
     SIX_WEEKS + 7 * DAY, ("refer_no_improvement", ("no_improvement_six_weeks",), True, "same")),
    ("two worse in a row at 6 weeks: ease first, both reasons", 4, (6, 7), (), False, SIX_WEEKS,
     ("ease", ("worse_two_in_a_row",), True, "worse")),
    ("red flag although pain is better: red flag wins", 6, (2,), (), True, TWO_WEEKS,
     ("red_flag", ("red_flag_found",), True, "better")),
    ("red flag with no check-in recorded", 5, (), (), True, TWO_WEEKS,
     ("red_flag", ("red_flag_found",), True, "same")),
    ("everything at once: reasons listed most serious first", 4, (6, 6),
     (hurt(2 * DAY, 8), hurt(DAY, 4, False)), True, SIX_WEEKS,
     ("red_flag", ("red_flag_found",), True, "worse")),
]  # fmt: skip


@pytest.mark.parametrize(
    ("baseline", "pains", "sessions", "red_flag", "elapsed", "expected"),
    [row[1:] for row in DECISIONS],
    ids=[row[0] for row in DECISIONS],
)
def test_decide(
    rules: CheckinRules,
    baseline: int,
    pains: tuple[int, ...],
    sessions: tuple[SessionRecord, ...],
    red_flag: bool,
    elapsed: timedelta,
    expected: tuple[Any, ...],
) -> None:
    now = START + elapsed
    # Sessions are placed relative to day 14; move them with `now` for the 6-week rows.
    moved = tuple(replace(session, at=session.at + (elapsed - TWO_WEEKS)) for session in sessions)
    history = evidence(baseline, checkins(*pains), moved, red_flag=red_flag)
    decision = decide(history, now, rules)
    assert (decision.action, decision.reasons, decision.refers, decision.change) == expected


def test_checkins_given_out_of_order_are_read_by_time(rules: CheckinRules) -> None:
    late_worse = CheckinRecord(at=START + 10 * DAY, pain_now=7, pain_worst_24h=8)
    early_worse = CheckinRecord(at=START + 5 * DAY, pain_now=7, pain_worst_24h=8)
    early_better = CheckinRecord(at=START + 2 * DAY, pain_now=1, pain_worst_24h=2)
    history = evidence(4, (late_worse, early_better, early_worse), ())
    assert decide(history, START + TWO_WEEKS, rules).action == "ease"


def test_most_serious_action_wins_whatever_order_rules_are_built_in(rules: CheckinRules) -> None:
    reversed_rules = replace(rules, rules=tuple(reversed(rules.rules)))
    history = evidence(6, checkins(3), (hurt(DAY, 7),))
    decision = decide(history, START + TWO_WEEKS, reversed_rules)
    assert (decision.action, decision.reasons) == ("ease", ("session_pain_high",))


def test_worst_pain_of_the_day_is_not_compared_with_the_baseline(rules: CheckinRules) -> None:
    spiky = tuple(CheckinRecord(at=START + d * DAY, pain_now=4, pain_worst_24h=9) for d in (3, 6))
    history = evidence(4, spiky, ())
    assert decide(history, START + TWO_WEEKS, rules).action == "continue"


# ---------------------------------------------------------------- meaningful change

# baseline, value, points, percent, expected
CHANGES: list[tuple[str, int, int, int, int, str]] = [
    ("exactly 2 points lower", 6, 4, 2, 30, "better"),
    ("exactly 2 points higher", 4, 6, 2, 30, "worse"),
    ("1 point on a baseline of 6 is 17 %", 6, 5, 2, 30, "same"),
    ("1 point on a baseline of 3 is 33 %", 3, 2, 2, 30, "better"),
    ("1 point up on a baseline of 3 is 33 %", 3, 4, 2, 30, "worse"),
    ("1 point on a baseline of 4 is 25 %", 4, 3, 2, 30, "same"),
    ("exactly 30 % lower counts (points rule out of the way)", 10, 7, 5, 30, "better"),
    ("30 % is not enough when 31 % is asked", 10, 7, 5, 31, "same"),
    ("2 of 7 is 29 %: not enough", 7, 5, 5, 30, "same"),
    ("2 of 7 up is 29 %: not enough", 7, 9, 5, 30, "same"),
    ("baseline 0, up 1: percent of 0 never applies", 0, 1, 2, 30, "same"),
    ("baseline 0, up 2: points rule applies", 0, 2, 2, 30, "worse"),
    ("baseline 0, still 0: better is impossible", 0, 0, 2, 30, "same"),
    ("baseline 10, still 10", 10, 10, 2, 30, "same"),
    ("baseline 10, down 1 is 10 %", 10, 9, 2, 30, "same"),
    ("baseline 1 down to 0 is 100 %", 1, 0, 2, 30, "better"),
    ("no change is never meaningful", 5, 5, 1, 1, "same"),
]


@pytest.mark.parametrize(
    ("baseline", "value", "points", "percent", "expected"),
    [row[1:] for row in CHANGES],
    ids=[row[0] for row in CHANGES],
)
def test_meaningful_change(
    rules: CheckinRules, baseline: int, value: int, points: int, percent: int, expected: str
) -> None:
    custom = replace(rules, change_points=points, change_percent=percent)
    assert meaningful_change(baseline, value, custom) == expected


# ---------------------------------------------------------------- the rules file


def test_shipped_rules_file_has_the_agreed_numbers_and_schedule(rules: CheckinRules) -> None:
    assert (rules.change_points, rules.change_percent) == (2, 30)
    assert (rules.worse_in_a_row, rules.session_pain_above, rules.no_improvement_weeks) == (2, 5, 6)
    assert rules.recent_session_days == 7
    assert [(rule.id, rule.action, [state.value for state in rule.states]) for rule in rules.rules] == [
        ("red_flag_found", "red_flag", ["active", "eased"]),
        ("worse_after_easing", "refer", ["eased"]),
        ("session_pain_high_after_easing", "refer", ["eased"]),
        ("hurt_not_settled_after_easing", "refer", ["eased"]),
        ("worse_two_in_a_row", "ease", ["active"]),
        ("session_pain_high", "ease", ["active"]),
        ("hurt_not_settled", "ease", ["active"]),
        ("no_improvement_six_weeks", "refer_no_improvement", ["active", "eased"]),
        ("meaningful_improvement", "progress", ["active", "eased"]),
    ]


def _shipped() -> dict[str, Any]:
    with RULES_FILE.open(encoding="utf-8") as handle:
        data: dict[str, Any] = yaml.safe_load(handle)
    return data


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value

    return edit


def _delete(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda data: data.pop(key)


def _drop_rule(rule_id: str) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        data["rules"] = [rule for rule in data["rules"] if rule["id"] != rule_id]

    return edit


def _move_progress_first(data: dict[str, Any]) -> None:
    data["rules"].insert(1, data["rules"].pop())


def _drop_worsening_in_eased(data: dict[str, Any]) -> None:
    data["rules"] = [rule for rule in data["rules"] if rule["id"] != "worse_after_easing"]


# story, edit to the shipped data, text expected in the message (the key path and problem)
BROKEN: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("wrong schema version", _set("schema_version", 1), "schema_version:"),
    ("thresholds missing", _delete("thresholds"), "thresholds: Field required"),
    ("a 0-point change would make every check-in meaningful",
     _set("thresholds.meaningful_change.points", 0), "thresholds.meaningful_change.points:"),
    ("percent written as text", _set("thresholds.meaningful_change.percent", "30%"),
     "thresholds.meaningful_change.percent:"),
    ("misspelt threshold", _set("thresholds.no_improvment_weeks", 6), "thresholds.no_improvment_weeks:"),
    ("session pain threshold of 10 could never fire", _set("thresholds.session_pain_above", 10),
     "thresholds.session_pain_above:"),
    ("unknown check", _set("rules.1.check", "worse_twice"), "rules[1].check:"),
    ("unknown action", _set("rules.2.action", "stop"), "rules[2].action:"),
    ("duplicate rule id", _set("rules.6.id", "session_pain_high"), "rules[6].id: duplicate rule id"),
    ("a safety check deleted from one state", _drop_rule("hurt_not_settled"),
     "rules: the safety check 'hurt_not_settled' needs a rule in every state; missing: ['active']"),
    ("no rule for getting worse in eased plans", _drop_worsening_in_eased,
     "rules: state 'eased' needs a rule for getting worse"),
    ("a check given twice in one state", _set("rules.5.states", ["active", "eased"]),
     "rules[5].states: check 'session_pain_high' already has a rule in 'eased'"),
    ("an unknown state", _set("rules.4.states", ["paused"]), "rules[4].states[0]:"),
    ("red flag downgraded to ease", _set("rules.0.action", "ease"), "rules[0].action: the red_flag check"),
    ("red_flag action on a non-red-flag check", _set("rules.1.action", "red_flag"),
     "rules[1].action: the red_flag check"),
    ("progress listed before refer", _move_progress_first,
     "rules[2].action: rules must be listed most serious"),
]  # fmt: skip


@pytest.mark.parametrize(("edit", "expected"), [row[1:] for row in BROKEN], ids=[row[0] for row in BROKEN])
def test_broken_rules_file_names_file_and_key(
    tmp_path: Path, edit: Callable[[dict[str, Any]], None], expected: str
) -> None:
    data = copy.deepcopy(_shipped())
    edit(data)
    path = tmp_path / "checkin_rules.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(ValueError) as raised:
        load_checkin_rules(path)
    assert f"{path}: {expected}" in str(raised.value)


# story, the file text made from the shipped text, text expected in the message
RAW_BROKEN: list[tuple[str, Callable[[str], str], str]] = [
    ("not YAML at all", lambda shipped: "rules: [unclosed\n", "not valid YAML"),
    ("a list at the top level", lambda shipped: "- schema_version: 1\n",
     "expected a mapping at the top level"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("make", "expected"), [row[1:] for row in RAW_BROKEN], ids=[row[0] for row in RAW_BROKEN]
)
def test_broken_rules_text_names_file_and_problem(
    tmp_path: Path, make: Callable[[str], str], expected: str
) -> None:
    shipped = RULES_FILE.read_text(encoding="utf-8")
    path = tmp_path / "checkin_rules.yaml"
    path.write_text(make(shipped), encoding="utf-8")
    with pytest.raises(ValueError) as raised:
        load_checkin_rules(path)
    assert f"{path}: {expected}" in str(raised.value)


def test_missing_rules_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.yaml"
    with pytest.raises(ValueError, match=r"nowhere\.yaml: file is missing"):
        load_checkin_rules(path)


# ---------------------------------------------------------------- records


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: CheckinRecord(at=START, pain_now=11, pain_worst_24h=5), id="pain above 10"),
        pytest.param(
            lambda: CheckinRecord(at=START, pain_now=3, pain_worst_24h=-1), id="negative worst pain"
        ),
        pytest.param(
            lambda: CheckinRecord(at=START.replace(tzinfo=None), pain_now=3, pain_worst_24h=3),
            id="naive time",
        ),
        pytest.param(lambda: SessionRecord(at=START, outcome="hurts"), id="unknown session outcome"),
        pytest.param(
            lambda: SessionRecord(at=START, outcome="hurt", hurt_pain=12), id="session pain above 10"
        ),
        pytest.param(lambda: evidence(True, (), ()), id="baseline given as yes/no"),
    ],
)
def test_impossible_records_are_refused(make: Callable[[], object]) -> None:
    with pytest.raises(ValueError):
        make()
