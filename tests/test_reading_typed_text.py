"""Typed text, read the way a careful clinician listens: one test per kind of mistake a
reader of people's own words makes, and the safety rules that hold whatever it reads.

The safety rules: text may add findings that raise the urgency or remove options; it
never lowers the urgency, never unlocks ball release and never overrides an explicit
answer in the lowering direction; every character is read.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.adapters.assess import InvalidInput, assess
from bot.core.answers import BOOLEAN_KEYS, MAX_TEXT_CHARS
from bot.core.triage import triage
from bot.core.understanding import Findings, understand
from tests.support import core

BASE: dict[str, Any] = {
    "pain_location": ["lower_back", "hip_front"],
    "worse_when_sitting": True,
    "duration_weeks": 2,
    "pain_now": 3,
    "age": 38,
}
TODAY = date(2026, 12, 4)


def read(text: str) -> Findings:
    return understand(text, core().content.lexicon, TODAY)


def reading(findings: Findings, key: str) -> str | None:
    """'yes', 'no', 'unsure', or None when the text says nothing about the key."""
    if findings.flags.get(key) is True:
        return "yes"
    if key in findings.uncertain:
        return "unsure"
    if findings.flags.get(key) is False:
        return "no"
    return None


def urgency_of(text: str, **answers: Any) -> str:
    return str(triage({**answers, "text": text}, core().content).urgency.value)


# --------------------------------------------------------------------------- classes of mistake

# (text, key, reading): how each kind of phrasing must be read.
CASES: list[tuple[str, str, str | None]] = [
    # negation on body areas, contractions, verbless forms, answers in the next sentence
    ("no stomach ache, it's my hip", "pulsating_abdominal_mass", None),
    ("waterworks are fine", "bladder_bowel_change", "no"),
    ("zero tingling, zero numbness", "leg_numbness", "no"),
    ("bladder ok, bowels ok", "bladder_bowel_change", "no"),
    ("They asked about fever or numbness. None of that.", "fever", "no"),
    ("They asked about fever or numbness. None of that.", "leg_numbness", "no"),
    ("nope to the fever, no sweats", "fever", "no"),
    # time and whose symptom it is
    ("had a fever in May, all cleared up now", "fever", None),
    ("finished a course of steroids in the spring, none since", "steroid_use", None),
    ("my hernia was repaired years ago, no problems since", "hernia", None),
    ("my nan had bowel cancer", "cancer_history", None),
    ("my flatmate fell down the stairs last night, I didn't", "trauma", None),
    ("I know to go to A&E if I ever lose control of my bladder", "bladder_bowel_change", None),
    ("clean 8 years now, I used to inject", "iv_drug_use", None),
    ("I used to inject drugs", "iv_drug_use", "unsure"),
    ("my husband had bowel cancer 5 years ago. he's 64 and his back aches", "cancer_history", "yes"),
    ("had the big C ten years ago, all clear for years", "cancer_history", "yes"),
    # lay words, slang and typos for the most dangerous signs
    ("wiping feels strange, like it's someone else's skin", "saddle_numbness", "yes"),
    ("I've been wetting the bed without noticing", "bladder_bowel_change", "yes"),
    ("my foot catches on the carpet and slaps down", "leg_weakness_progressive", "yes"),
    ("sweats and shakes for the last 2 nights", "fever", "yes"),
    ("I inject heroin", "iv_drug_use", "yes"),
    ("nothin helps day n nite, up all night walkin round the kitchen", "night_pain_unrelenting", "yes"),
    ("numb round my balls and my bum since this morning", "saddle_numbness", "yes"),
    ("she can't hold her wee since this afternoon", "bladder_bowel_change", "yes"),
    ("there's numbnes down below when I wipe", "saddle_numbness", "unsure"),
    ("maybe a bit numb down there, not sure", "saddle_numbness", "unsure"),
    ("is it normal that wiping feels weird?", "saddle_numbness", "unsure"),
    # patterns too broad
    ("I can't stand up straight for a moment after sitting", "unable_to_bear_weight", None),
    ("it wakes me early but eases when I move about", "night_pain_unrelenting", None),
    ("the pain swaps sides, sometimes the left leg, sometimes the right", "bilateral_leg_symptoms", None),
    ("my bum goes a bit dead on the bleachers but comes back as soon as I stand", "saddle_numbness", None),
    ("both thighs were wrecked after squats on Monday, that wore off", "bilateral_leg_symptoms", None),
    ("lost 8kg on slimming world since january, really chuffed", "unexplained_weight_loss", None),
]


@pytest.mark.parametrize(("text", "key", "expected"), CASES)
def test_each_kind_of_phrasing_is_read_as_a_clinician_would(
    text: str, key: str, expected: str | None
) -> None:
    assert reading(read(text), key) == expected, f"{text!r}: {key}"


def test_a_body_area_named_only_to_deny_it_is_not_where_it_hurts() -> None:
    findings = read("no stomach ache, belly's fine, it's the front of my hip, 2 weeks, 3/10")
    assert findings.pain_location == ("hip_front",)


@pytest.mark.parametrize(
    ("text", "weeks", "history"),
    [
        ("back pain on and off for 6 years, this flare 9 days", 1.29, 313.08),
        ("2 wks of groin ache, 3/10", 2.0, None),
        ("groin and front of thigh, 3 weeks, 3/10", 3.0, None),
        ("it's been there since half term, not getting better", 5.57, None),
        ("my daughter was born seven weeks ago, and for the last 2 weeks my back aches", 2.0, None),
        ("it started the first week back at school in september and it's october half term now", 7.86, None),
    ],
)
def test_the_current_episode_is_its_length_and_the_history_is_kept_apart(
    text: str, weeks: float, history: float | None
) -> None:
    findings = read(text)
    assert findings.duration_weeks == pytest.approx(weeks, abs=0.05)
    assert findings.history_weeks == (None if history is None else pytest.approx(history, abs=0.5))


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("61 and never had back trouble in my life, ache front of hip 3 weeks", 61),
        ("Deep ache in my groin for three weeks, 3 out of 10. Mike, 58.", 58),
        ("I'm 45, asking for my dad who's 78. he's had an ache in his groin", 78),
        ("M/72. Right groin ache getting up from chairs, 10 days", 72),
        ("ache in my lower back, 2 weeks, 4/10, 42m", 42),
        ("I'm in my late fifties and this is new", 58),
        ("turned 50 in march, and now this ache", 50),
        ("coming up to 70 in the summer, stiff low back", 69),
        ("my son (16) came off his bike yesterday", 16),
    ],
)
def test_ages_in_every_common_form(text: str, age: int) -> None:
    assert read(text).age == age


def test_a_message_for_someone_else_reads_their_symptoms_and_their_age() -> None:
    findings = read(
        "texting for my mum, 68. she can't hold her wee since this afternoon and her back's "
        "been bad since friday. no fever, no fall. I'm 41 myself."
    )
    assert findings.proxy
    assert findings.age == 68
    assert findings.sex == "F"
    assert reading(findings, "bladder_bowel_change") == "yes"
    assert reading(findings, "fever") == "no"


# --------------------------------------------------------------------------- the safety rules


def test_a_chemists_advice_is_not_an_assessment_and_never_lowers_an_explicit_no() -> None:
    answers = {**BASE, "age": 55, "previously_assessed": False}
    assert urgency_of("", **answers) == "ROUTINE"
    assert urgency_of("the chemist said to take paracetamol", **answers) == "ROUTINE"
    # Even a real assessment in the text cannot undo the explicit "no, nobody has checked it".
    assert urgency_of("my GP examined me last week and said it's a muscle strain", **answers) == "ROUTINE"


def test_uncertain_readings_of_a_red_flag_count_as_yes_where_nobody_can_be_asked() -> None:
    assert urgency_of("maybe a bit numb down there when I wipe, not sure", **BASE) == "EMERGENCY"


def test_a_long_paste_never_flips_an_answer_given_by_button() -> None:
    answers = {**BASE, "worse_when_sitting": False}
    text = "It is worse when sitting at my desk for hours. " * 60
    merged_reading = triage({**answers, "text": text}, core().content)
    plain = triage(answers, core().content)
    assert merged_reading.urgency == plain.urgency
    assert merged_reading.ball_release_allowed == plain.ball_release_allowed


PHRASES = [text for text, _, expected in CASES if expected == "yes"] + [
    "my physio checked it and said it is a muscle strain",
    "nobody has looked at it",
    "I'm 61",
    "for 8 weeks now",
    "pain 9/10",
    "no fever, no numbness, bladder and bowels fine",
]
ANSWER_KEYS = sorted(BOOLEAN_KEYS)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    yeses=st.sets(st.sampled_from(ANSWER_KEYS), max_size=4),
    noes=st.sets(st.sampled_from(ANSWER_KEYS), max_size=8),
    age=st.none() | st.integers(10, 90),
    phrases=st.lists(st.sampled_from(PHRASES), min_size=1, max_size=4),
)
def test_text_never_lowers_the_urgency_or_unlocks_ball_release(
    yeses: set[str], noes: set[str], age: int | None, phrases: list[str]
) -> None:
    """For every key and any mix of answers: answers plus text are never less urgent than
    the answers alone, and ball release is never allowed by text that the answers forbid."""
    answers: dict[str, Any] = {**BASE, **{key: False for key in noes}, **{key: True for key in yeses}}
    if age is not None:
        answers["age"] = age
    else:
        answers.pop("age")
    content = core().content
    alone = triage(answers, content)
    with_text = triage({**answers, "text": " ".join(phrases)}, content)
    assert with_text.urgency.rank >= alone.urgency.rank
    assert not (with_text.ball_release_allowed and not alone.ball_release_allowed)


# --------------------------------------------------------------------------- the input limit


def test_assess_reads_up_to_the_limit_and_refuses_more_with_one_line() -> None:
    flag = " Since this morning I can't pass urine."
    filler = "my back aches after sitting. " * (MAX_TEXT_CHARS // 29)
    text = filler[: MAX_TEXT_CHARS - len(flag)] + flag
    assert len(text) == MAX_TEXT_CHARS
    assert assess(json.dumps({"text": text}), core())["urgency"] == "EMERGENCY"
    with pytest.raises(InvalidInput, match="65,536"):
        assess(json.dumps({"text": text + "!"}), core())
