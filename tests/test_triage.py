"""Triage: the sample cases from ../shared, and our own table of cases.

Our own cases are written in our own words from the guidelines the content
cites (NICE NG59, NICE CKS, nhs.uk), to pin the rules down independently of
the samples.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.core.policy import Urgency
from bot.core.routines import PersonalRoutine
from bot.core.triage import triage
from tests.support import SHARED_MISSING, VIGNETTES, core, load_vignettes

BASE: dict[str, Any] = {
    "pain_location": ["lower_back", "hip_front"],
    "radiates_to": [],
    "worse_when_sitting": True,
    "worse_rising_from_chair": True,
    "duration_weeks": 2,
    "pain_now": 4,
    "age": 35,
    "sex": "F",
}


def _vignette_ids() -> list[str]:
    return [v["id"] for v in load_vignettes()] if VIGNETTES.is_file() else []


@pytest.fixture(scope="module")
def vignettes() -> dict[str, dict[str, Any]]:
    if not VIGNETTES.is_file():
        pytest.skip(SHARED_MISSING)
    return {v["id"]: v for v in load_vignettes()}


@pytest.mark.parametrize("case_id", _vignette_ids() or ["absent"])
def test_sample_structured_answers_get_the_expected_urgency_and_ball_decision(vignettes, case_id):
    case = vignettes[case_id]
    result = triage(case["answers"], core().content)
    assert result.urgency == case["expected_urgency"], case["rationale"]
    assert result.ball_release_allowed == case["allow_ball_release"], case["rationale"]


@pytest.mark.parametrize("case_id", _vignette_ids() or ["absent"])
def test_sample_narrative_alone_never_under_triages(vignettes, case_id):
    case = vignettes[case_id]
    result = triage({"text": case["narrative"]}, core().content)
    expected = case["expected_urgency"]
    assert result.urgency.at_least(Urgency(expected)), (
        f"narrative gave {result.urgency}, expected at least {expected}: {case['rationale']}"
    )
    if not case["allow_ball_release"]:
        assert not result.ball_release_allowed


def test_sample_narratives_agree_with_the_expected_urgency_almost_always(vignettes):
    exact = sum(
        triage({"text": case["narrative"]}, core().content).urgency == case["expected_urgency"]
        for case in vignettes.values()
    )
    assert exact / len(vignettes) >= 0.9


OWN_CASES: list[tuple[str, dict[str, Any], str, bool]] = [
    ("plain desk ache", {}, "SELF_CARE", True),
    ("numb saddle area", {"saddle_numbness": True}, "EMERGENCY", False),
    ("cannot pass urine", {"bladder_bowel_change": True}, "EMERGENCY", False),
    ("sciatica down both legs", {"bilateral_leg_symptoms": True}, "EMERGENCY", False),
    ("foot getting weaker", {"leg_weakness_progressive": True}, "EMERGENCY", False),
    ("pulsing lump in belly", {"pulsating_abdominal_mass": True}, "EMERGENCY", False),
    ("fainted with the pain", {"fainting": True}, "EMERGENCY", False),
    ("sudden tearing pain at 58", {"sudden_severe_onset": True, "age": 58}, "EMERGENCY", False),
    ("sudden severe pain at 30", {"sudden_severe_onset": True, "age": 30}, "URGENT", False),
    ("known aneurysm, new ache", {"known_aaa": True}, "URGENT", False),
    (
        "known aneurysm, sudden pain",
        {"known_aaa": True, "sudden_severe_onset": True, "age": 45},
        "EMERGENCY",
        False,
    ),
    (
        "blood thinner, sudden groin pain",
        {"anticoagulants": True, "sudden_severe_onset": True, "pain_location": ["groin"], "age": 40},
        "EMERGENCY",
        False,
    ),
    (
        "blood thinner, groin pain with thigh numbness",
        {"anticoagulants": True, "leg_numbness": True, "pain_location": ["groin"]},
        "EMERGENCY",
        False,
    ),
    ("blood thinner, ordinary ache", {"anticoagulants": True}, "SELF_CARE", False),
    ("hernia gone hard", {"hernia": True, "hernia_irreducible": True}, "EMERGENCY", False),
    ("known hernia, ordinary ache", {"hernia": True}, "SELF_CARE", False),
    ("new groin lump", {"new_groin_lump": True}, "ROUTINE", False),
    ("fall then cannot stand", {"trauma": True, "unable_to_bear_weight": True}, "EMERGENCY", False),
    ("fall, walking fine", {"trauma": True}, "URGENT", False),
    ("fever", {"fever": True}, "URGENT", False),
    ("fever and cannot stand", {"fever": True, "unable_to_bear_weight": True}, "EMERGENCY", False),
    ("injects drugs", {"iv_drug_use": True}, "URGENT", False),
    ("past cancer", {"cancer_history": True}, "URGENT", False),
    ("weight loss", {"unexplained_weight_loss": True}, "URGENT", False),
    ("night pain", {"night_pain_unrelenting": True}, "URGENT", False),
    (
        "runner limping with groin pain",
        {"high_impact_training": True, "limp_or_pain_weight_bearing": True, "pain_location": ["groin"]},
        "URGENT",
        False,
    ),
    ("runner, no limp", {"high_impact_training": True}, "SELF_CARE", True),
    ("pain 9 of 10", {"pain_now": 9}, "URGENT", False),
    ("eight weeks, no better", {"duration_weeks": 8}, "ROUTINE", False),
    ("five weeks", {"duration_weeks": 5}, "SELF_CARE", True),
    ("first back pain at 55", {"age": 55}, "ROUTINE", False),
    ("55, already checked by GP", {"age": 55, "previously_assessed": True}, "SELF_CARE", True),
    ("teenager", {"age": 15}, "ROUTINE", False),
    ("pain into the calf", {"radiates_to": ["below_knee"]}, "ROUTINE", False),
    ("one numb leg", {"leg_numbness": True}, "ROUTINE", False),
    ("clicking hip", {"hip_clicking_locking": True}, "ROUTINE", False),
    ("on immunosuppressants", {"immunosuppressed": True}, "ROUTINE", False),
    ("belly pain", {"pain_location": ["abdomen", "lower_back"]}, "ROUTINE", False),
    ("pregnant", {"pregnant": True}, "SELF_CARE", False),
    ("osteoporosis", {"osteoporosis": True}, "SELF_CARE", False),
    ("long-term steroids", {"steroid_use": True}, "SELF_CARE", False),
    ("colitis", {"ibd": True}, "SELF_CARE", False),
    ("sore after ball work", {"worse_after_release": True}, "SELF_CARE", False),
    ("recent keyhole surgery", {"recent_abdominal_surgery": True}, "SELF_CARE", False),
]


@pytest.mark.parametrize(("name", "changes", "urgency", "ball"), OWN_CASES, ids=[c[0] for c in OWN_CASES])
def test_own_cases(name, changes, urgency, ball):
    result = triage({**BASE, **changes}, core().content)
    assert (result.urgency, result.ball_release_allowed) == (urgency, ball)


def test_free_text_red_flags_count_like_answers_and_negations_do_not_trigger():
    content = core().content
    assert triage({**BASE, "text": "since yesterday it's numb when I wipe"}, content).urgency == "EMERGENCY"
    assert (
        triage({**BASE, "text": "no fever, not numb, no pins and needles or weakness"}, content).urgency
        == "SELF_CARE"
    )
    # A negation in the text never cancels an explicit yes.
    assert triage({**BASE, "fever": True, "text": "no fever"}, content).urgency == "URGENT"


def test_adding_any_yes_never_lowers_the_urgency():
    """Monotonic: for every red flag or precaution, saying yes cannot make things less urgent.

    The one exception by design is `previously_assessed`: a pain a professional
    has already checked no longer needs the "new pain after 50" referral.
    """
    from bot.core.answers import BOOLEAN_KEYS

    content = core().content
    for base_changes in ({}, {"age": 60}, {"duration_weeks": 8}, {"anticoagulants": True}):
        base = {**BASE, **base_changes}
        before = triage(base, content).urgency.rank
        for key in set(BOOLEAN_KEYS) - {"previously_assessed"}:
            after = triage({**base, key: True}, content).urgency.rank
            assert after >= before, f"{key} lowered urgency from {base_changes}"


def test_no_routine_with_ball_pressure_is_ever_offered_against_a_contraindication():
    contraindication_keys = [
        "pregnant",
        "recent_abdominal_surgery",
        "hernia",
        "anticoagulants",
        "known_aaa",
        "osteoporosis",
        "steroid_use",
        "ibd",
        "worse_after_release",
    ]
    for key in contraindication_keys:
        for extra in ({}, {"high_impact_training": True}, {"duration_weeks": 3, "pain_now": 2}):
            answers = {**BASE, **extra, key: True}
            result, routine = first_result(answers)
            assert not result.ball_release_allowed
            if routine is not None:
                tags = set().union(*(exercise.tags for exercise in routine.exercises))
                assert "abdominal_pressure" not in tags, (key, routine.id)


def test_routines_follow_the_answers():
    def routine_for(**changes: Any) -> str | None:
        answers = {**BASE, **changes}
        _, found = first_result(answers)
        return found.id if found else None

    assert routine_for() == "ball-release"
    assert routine_for(duration_weeks=1) == "desk-sitter"
    assert routine_for(high_impact_training=True) == "active-runner"
    assert routine_for(pregnant=True) == "no-abdominal-pressure"
    assert routine_for(duration_weeks=8) == "gentle-while-waiting"
    assert routine_for(fever=True) is None
    assert routine_for(saddle_numbness=True) is None


def first_result(answers: dict[str, Any]) -> tuple[Any, PersonalRoutine | None]:
    """What a first check offers for these answers (the plan it starts, as every front shows it)."""
    result, _, routine = core().engine.assess(answers, None, datetime.now(UTC))
    return result, routine
