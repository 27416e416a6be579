"""Free-text understanding: red flags and negations in people's own words.

Missing a red flag that someone wrote down is the worst defect this module can
have, so most cases here are red flags in everyday phrasing, each beside the
negated forms that must not raise it.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.core.answers import AREAS, BOOLEAN_KEYS, CONTEXT_KEYS, RED_FLAG_KEYS
from bot.core.understanding import (
    MAX_TEXT_CHARS,
    Findings,
    Lexicon,
    LexiconError,
    load_lexicon,
    parse_age,
    parse_areas,
    parse_duration_weeks,
    parse_pain_score,
    parse_yes_no,
    understand,
)

ROOT = Path(__file__).resolve().parents[1]
LEXICON_PATH = ROOT / "content" / "understanding" / "en.yaml"
SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "vignettes" / "sample.yaml"


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return load_lexicon(LEXICON_PATH)


# --------------------------------------------------------------------------- flags

# (text, key, expected): True = affirmed, False = explicitly negated,
# None = must not be affirmed (absent or negated).
FLAG_CASES: list[tuple[str, str, bool | None]] = [
    # fever
    ("I have a fever", "fever", True),
    ("I've been hot, shivery and sweating through the sheets at night", "fever", True),
    ("Running a temperature of 38.4 since Tuesday", "fever", True),
    ("I keep getting the chills and feel awful", "fever", True),
    ("no fever", "fever", False),
    ("I don't think I've had a temperature", "fever", False),
    ("No fever, chills or night sweats.", "fever", False),
    ("I have a fever and everything else is fine", "fever", True),
    ("Fever and my legs are fine", "fever", True),
    ("What should I do if I get a fever?", "fever", None),
    ("I use hot and cold packs on it", "fever", None),
    # saddle numbness
    ("it's numb when I wipe", "saddle_numbness", True),
    ("I can't really feel the toilet paper when I wipe", "saddle_numbness", True),
    ("There's a numb patch between my legs since yesterday", "saddle_numbness", True),
    ("My bottom feels numb and tingly", "saddle_numbness", True),
    ("It feels different when I wipe, like it's not my skin", "saddle_numbness", True),
    ("No numbness around my bottom or genitals", "saddle_numbness", False),
    ("it's not numb when I wipe", "saddle_numbness", False),
    # bladder / bowel
    ("can't pee", "bladder_bowel_change", True),
    ("Since this morning I can't pass urine", "bladder_bowel_change", True),
    ("I haven't been able to wee since last night", "bladder_bowel_change", True),
    ("I wet myself on the way to work without noticing", "bladder_bowel_change", True),
    ("I've lost control of my bowels", "bladder_bowel_change", True),
    ("I can't feel when I need to go to the toilet", "bladder_bowel_change", True),
    ("no numbness and I can't pee", "bladder_bowel_change", True),
    ("No fever and my bladder is playing up", "bladder_bowel_change", True),
    ("my bladder and everything down below is fine", "bladder_bowel_change", False),
    ("my waterworks haven't changed", "bladder_bowel_change", False),
    ("My bowels are normal for me", "bladder_bowel_change", False),
    ("No problems with my bladder or bowels", "bladder_bowel_change", False),
    ("I have irritable bowel syndrome", "bladder_bowel_change", None),
    (
        "I don't have any numbness, weakness or problems with my bladder or bowels",
        "bladder_bowel_change",
        False,
    ),
    ("My bladder and my bowels are fine", "bladder_bowel_change", False),
    ("my stream is weak and I have to strain to pee", "bladder_bowel_change", True),
    ("It's numb around my back passage and I've had a couple of accidents", "bladder_bowel_change", True),
    ("I had my gall bladder out in March", "bladder_bowel_change", None),
    # progressive leg weakness
    ("My right leg is getting weaker every day", "leg_weakness_progressive", True),
    ("I keep tripping over my foot and it slaps down when I walk", "leg_weakness_progressive", True),
    ("My knee keeps giving way", "leg_weakness_progressive", True),
    ("I can't lift my foot up properly", "leg_weakness_progressive", True),
    ("No numbness, but it's weak", "leg_weakness_progressive", True),
    ("My leg strength feels normal and it isn't getting worse", "leg_weakness_progressive", False),
    ("no pins and needles or weakness", "leg_weakness_progressive", False),
    ("I feel weak and tired with this flu", "leg_weakness_progressive", None),
    # leg numbness
    ("The front of my thigh has gone numb", "leg_numbness", True),
    ("pins and needles down to my toes", "leg_numbness", True),
    ("a tingly patch on the outside of my foot", "leg_numbness", True),
    ("Not numb, just tingly", "leg_numbness", True),
    ("not numb", "leg_numbness", None),
    ("no pins and needles or weakness", "leg_numbness", None),
    ("No numbness or tingling", "leg_numbness", False),
    ("Numbness in my foot and my bladder is fine", "leg_numbness", True),
    ("Numbness? No. Fever? No.", "leg_numbness", False),
    ("my foot is numb, no idea why", "leg_numbness", True),
    ("The numbness hasn't changed", "leg_numbness", True),
    ("no numbness and I can't pee", "leg_numbness", None),
    ("My fingers tingle from typing", "leg_numbness", None),
    # both legs
    ("The pain goes down both legs", "bilateral_leg_symptoms", True),
    ("It swaps between sides, sometimes the left leg, sometimes the right", "bilateral_leg_symptoms", None),
    ("Only my left leg, the right is fine", "bilateral_leg_symptoms", None),
    ("It aches on both sides of my lower back", "bilateral_leg_symptoms", None),
    # pulsating mass
    ("throbbing in my belly", "pulsating_abdominal_mass", True),
    ("I can feel my heartbeat in my tummy when I lie down", "pulsating_abdominal_mass", True),
    ("there's a pulsating lump above my belly button", "pulsating_abdominal_mass", True),
    ("No pulsing in my stomach", "pulsating_abdominal_mass", False),
    # sudden severe onset
    ("It came on suddenly, a tearing pain, the worst pain I've ever had", "sudden_severe_onset", True),
    ("a ripping pain hit me out of nowhere", "sudden_severe_onset", True),
    ("It came on gradually, nothing sudden", "sudden_severe_onset", False),
    # fainting
    ("I nearly blacked out when it started", "fainting", True),
    ("I passed out in the kitchen", "fainting", True),
    ("I feel faint and clammy", "fainting", True),
    ("I haven't fainted or felt dizzy", "fainting", False),
    ("there's a faint ache in my groin", "fainting", None),
    # trauma
    ("I fell down the stairs on Sunday", "trauma", True),
    ("another car hit mine at the lights", "trauma", True),
    ("I was tackled playing rugby", "trauma", True),
    ("There was no injury and no fall", "trauma", False),
    ("I fell asleep on the sofa in a funny position", "trauma", None),
    ("I slipped a disc ten years ago", "trauma", None),
    # weight bearing
    ("I can't put any weight on my left leg", "unable_to_bear_weight", True),
    ("I can't walk at all since the fall", "unable_to_bear_weight", True),
    ("I can't stand for long at work", "unable_to_bear_weight", None),
    ("I can walk but it hurts to put weight on that leg", "unable_to_bear_weight", None),
    ("I can walk but it hurts to put weight on that leg", "limp_or_pain_weight_bearing", True),
    ("I'm limping", "limp_or_pain_weight_bearing", True),
    ("It hurts to walk", "limp_or_pain_weight_bearing", True),
    ("I can't walk without limping", "limp_or_pain_weight_bearing", True),
    ("I can walk without limping", "limp_or_pain_weight_bearing", False),
    ("It doesn't hurt to walk", "limp_or_pain_weight_bearing", False),
    # cancer
    ("I was treated for breast cancer three years ago", "cancer_history", True),
    ("I had chemotherapy for lymphoma in 2019", "cancer_history", True),
    ("I've never had cancer", "cancer_history", False),
    ("My mum had cancer", "cancer_history", None),
    ("I had a cancer scare but the lump was benign", "cancer_history", None),
    # weight loss
    ("I've been losing weight without trying", "unexplained_weight_loss", True),
    ("My trousers are falling off me, I've lost a stone since summer", "unexplained_weight_loss", True),
    ("I haven't lost any weight", "unexplained_weight_loss", False),
    ("I've lost 2 stone on purpose at slimming club", "unexplained_weight_loss", None),
    # night pain
    ("It wakes me at night and nothing helps", "night_pain_unrelenting", True),
    ("it's worse at night, even lying still", "night_pain_unrelenting", True),
    ("I'm sleeping fine, no night pain", "night_pain_unrelenting", False),
    ("a new, constant ache", "night_pain_unrelenting", None),
    ("The pain is constant, day and night, and painkillers don't touch it", "night_pain_unrelenting", True),
    # immunity, drugs, steroids
    ("I'm on immunosuppressants after my kidney transplant", "immunosuppressed", True),
    ("I take methotrexate for psoriasis", "immunosuppressed", True),
    ("I've been on long-term steroids for asthma", "immunosuppressed", True),
    ("I've been on long-term steroids for asthma", "steroid_use", True),
    ("I'm on prednisolone", "steroid_use", True),
    ("on mesalazine, no steroids", "steroid_use", False),
    ("I took ibuprofen, a non-steroidal", "steroid_use", None),
    ("I inject heroin", "iv_drug_use", True),
    ("I inject drugs", "iv_drug_use", True),
    ("I inject insulin for my diabetes", "iv_drug_use", None),
    # groin lumps and hernia
    ("I've found a lump in my groin that pops out when I cough", "new_groin_lump", True),
    ("there's a bulge in my groin", "new_groin_lump", True),
    ("No lumps in my groin", "new_groin_lump", False),
    ("My hernia has gone hard and won't go back in", "hernia_irreducible", True),
    ("I've got a hernia and I've been vomiting since lunch", "hernia_irreducible", True),
    ("I have an inguinal hernia", "hernia", True),
    ("I'm worried it might be a hernia", "hernia", None),
    # hip
    ("My hip clicks and sometimes locks", "hip_clicking_locking", True),
    ("there's a clunking in my hip when I stand", "hip_clicking_locking", True),
    # context keys
    ("I'm 20 weeks pregnant", "pregnant", True),
    ("I'm not pregnant", "pregnant", False),
    ("My wife is pregnant", "pregnant", None),
    ("I had a caesarean seven weeks ago", "recent_abdominal_surgery", True),
    ("I had keyhole surgery on my tummy last month", "recent_abdominal_surgery", True),
    ("I had my appendix out when I was 12", "recent_abdominal_surgery", None),
    ("I'm on warfarin", "anticoagulants", True),
    ("I take apixaban for atrial fibrillation", "anticoagulants", True),
    ("I have haemophilia", "anticoagulants", True),
    ("no blood thinners", "anticoagulants", False),
    ("I have an abdominal aortic aneurysm that they're watching", "known_aaa", True),
    ("My dad has a AAA", "known_aaa", None),
    ("I have osteoporosis", "osteoporosis", True),
    ("I've been told I have brittle bones", "osteoporosis", True),
    ("I have Crohn's disease", "ibd", True),
    ("My ulcerative colitis is in remission", "ibd", True),
    ("I'm training for a marathon", "high_impact_training", True),
    ("I play football three times a week", "high_impact_training", True),
    ("I row and cycle, no running", "high_impact_training", False),
    ("I was running a temperature", "high_impact_training", None),
    ("My GP checked it two weeks ago and said it's a tight hip flexor", "previously_assessed", True),
    ("The physio examined me last week", "previously_assessed", True),
    ("I haven't seen a doctor about it", "previously_assessed", False),
    ("I'm going to see my GP next week", "previously_assessed", None),
    ("The massage ball made it worse and I was sorer the next day", "worse_after_release", True),
    ("The massage ball helped", "worse_after_release", None),
    ("It's worse after sitting at my desk", "worse_when_sitting", True),
    ("sitting in the van makes it worse", "worse_when_sitting", True),
    ("Sitting down is actually a relief", "worse_when_sitting", False),
    ("It catches when I stand up from the sofa", "worse_rising_from_chair", True),
    ("especially when I push myself up out of the chair", "worse_rising_from_chair", True),
    ("standing up is fine", "worse_rising_from_chair", False),
]


@pytest.mark.parametrize(("text", "key", "expected"), FLAG_CASES)
def test_flag(lexicon: Lexicon, text: str, key: str, expected: bool | None) -> None:
    found = understand(text, lexicon).flags.get(key)
    if expected is None:
        assert found is not True, f"{key} must not be affirmed by {text!r}"
    else:
        assert found is expected, f"{key}: expected {expected}, found {found} in {text!r}"


def test_every_boolean_key_has_a_positive_case() -> None:
    affirmed = {key for _, key, expected in FLAG_CASES if expected is True}
    assert set(BOOLEAN_KEYS) <= affirmed


def test_one_message_several_findings(lexicon: Lexicon) -> None:
    text = (
        "I'm a 52-year-old man. For the past three days my lower back has been agony, "
        "7/10. Since last night I can't feel the toilet paper when I wipe, no fever, "
        "no pins and needles in my legs."
    )
    findings = understand(text, lexicon)
    assert findings.flags["saddle_numbness"] is True
    assert findings.flags["fever"] is False
    assert findings.flags["leg_numbness"] is False
    assert findings.age == 52
    assert findings.sex == "M"
    assert findings.pain_now == 7
    assert findings.pain_location == ("lower_back",)
    assert findings.duration_weeks == pytest.approx(3 / 7, rel=0.1)


def test_family_history_is_not_the_persons(lexicon: Lexicon) -> None:
    flags = understand("My dad died of bowel cancer and my mum has osteoporosis", lexicon).flags
    assert flags.get("cancer_history") is not True
    assert flags.get("osteoporosis") is not True
    mine = understand("My mum had cancer and so did I, I had chemo last year", lexicon).flags
    assert mine.get("cancer_history") is True


def test_affirmed_wins_over_negated(lexicon: Lexicon) -> None:
    flags = understand("No fever yesterday, but today I've got a temperature", lexicon).flags
    assert flags["fever"] is True


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize(
    ("text", "location", "radiates"),
    [
        ("Deep ache in my lower back and groin", ("lower_back", "groin"), ()),
        (
            "an ache in the front of my right hip that spreads into the front of my thigh",
            ("hip_front",),
            ("front_thigh",),
        ),
        ("pain shoots from my buttock down the back of my leg into my calf", ("buttock",), ("below_knee",)),
        ("My tummy hurts", ("abdomen",), ()),
        ("Standing back up catches me; my back is sore", ("lower_back",), ()),
        ("My back is sore and the front of my thigh has gone numb", ("lower_back",), ()),
    ],
)
def test_areas_in_a_narrative(
    lexicon: Lexicon, text: str, location: tuple[str, ...], radiates: tuple[str, ...]
) -> None:
    findings = understand(text, lexicon)
    assert findings.pain_location == location
    assert findings.radiates_to == radiates


@pytest.mark.parametrize(
    ("text", "weeks"),
    [
        ("I've had this ache for about three weeks", 3),
        ("For about ten days my hip has hurt", 10 / 7),
        ("It's been aching since yesterday", 1 / 7),
        ("about an hour ago I got a sudden pain", 0.01),
        ("My groin has been sore for two months", 8.7),
        ("Four weeks ago my lower back started aching", 4),
        ("I flew home three days ago. Since then I've had a deep ache", 3 / 7),
        ("My daughter was born by caesarean seven weeks ago. For two weeks my back has ached", 2),
        ("I started a new job three weeks ago. For the last two weeks my hip has hurt", 2),
        ("I was treated for cancer three years ago.", None),
    ],
)
def test_duration(lexicon: Lexicon, text: str, weeks: float | None) -> None:
    found = understand(text, lexicon).duration_weeks
    if weeks is None:
        assert found is None
    else:
        assert found is not None
        assert weeks / 1.5 <= found <= weeks * 1.5


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("It's about 4/10", 4),
        ("the pain is 6 out of 10", 6),
        ("around 3/10 most days", 3),
        ("it's a 7 right now", 7),
        ("It hurts 24/7", None),
        ("I work 10-hour shifts", None),
    ],
)
def test_pain_score_in_a_narrative(lexicon: Lexicon, text: str, score: int | None) -> None:
    assert understand(text, lexicon).pain_now == score


@pytest.mark.parametrize(
    ("text", "age", "sex"),
    [
        ("I'm a 38-year-old woman", 38, "F"),
        ("I'm 29 and non-binary", 29, "X"),
        ("Male, aged 61, retired", 61, "M"),
        ("I am 72 and a keen gardener", 72, None),
        ("I'm 25, female, a runner", 25, "F"),
        ("I've had it for 5 days, 10-hour shifts, 13 hours on a plane", None, None),
        ("My 10-year-old son plays football", None, None),
    ],
)
def test_age_and_sex(lexicon: Lexicon, text: str, age: int | None, sex: str | None) -> None:
    findings = understand(text, lexicon)
    assert findings.age == age
    assert findings.sex == sex


def test_answers_holds_only_what_was_found(lexicon: Lexicon) -> None:
    findings = understand("I'm 45, no fever, my back hurts, 5/10, for two weeks", lexicon)
    answers = findings.answers()
    assert answers == {
        "fever": False,
        "pain_location": ["lower_back"],
        "duration_weeks": 2.0,
        "pain_now": 5,
        "age": 45,
    }
    assert Findings().answers() == {}


# --------------------------------------------------------------------------- parsers


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", True),
        ("Y", True),
        ("yeah", True),
        ("Yep!", True),
        ("sure", True),
        ("yes, a bit", True),
        ("👍", True),
        ("no", False),
        ("nope", False),
        ("nah", False),
        ("not really", False),
        ("No, never", False),
        ("definitely not", False),
        ("none", False),
        ("maybe", None),
        ("not sure", None),
        ("I don't know", None),
        ("", None),
        ("banana", None),
    ],
)
def test_parse_yes_no(lexicon: Lexicon, text: str, expected: bool | None) -> None:
    assert parse_yes_no(text, lexicon) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("6", 6),
        ("6/10", 6),
        ("six", 6),
        ("about 7 out of 10", 7),
        ("0", 0),
        ("10", 10),
        ("3-4", 4),
        ("it's a 7", 7),
        ("11", None),
        ("-1", None),
        ("twelve", None),
        ("24/7", None),
        ("lots", None),
        ("", None),
    ],
)
def test_parse_pain_score(lexicon: Lexicon, text: str, expected: int | None) -> None:
    assert parse_pain_score(text, lexicon) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("about 3 weeks", 3.0),
        ("3w", 3.0),
        ("10 days", 1.43),
        ("2 months", 8.69),
        ("a year", 52.18),
        ("since yesterday", 0.14),
        ("6 weeks", 6.0),
        ("a couple of weeks", 2.0),
        ("two and a half weeks", 2.5),
        ("an hour", 0.01),
        ("3", None),
        ("ages", None),
        ("", None),
    ],
)
def test_parse_duration_weeks(lexicon: Lexicon, text: str, expected: float | None) -> None:
    assert parse_duration_weeks(text, lexicon) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45", 45),
        ("I'm 45", 45),
        ("forty five", 45),
        ("forty-five", 45),
        ("aged 61", 61),
        ("72 years old", 72),
        ("0", 0),
        ("120", 120),
        ("121", None),
        ("150", None),
        ("-5", None),
        ("old", None),
        ("", None),
    ],
)
def test_parse_age(lexicon: Lexicon, text: str, expected: int | None) -> None:
    assert parse_age(text, lexicon) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("lower back and groin", ("lower_back", "groin")),
        ("front of my thigh", ("front_thigh",)),
        ("belly", ("abdomen",)),
        ("tummy", ("abdomen",)),
        ("bum", ("buttock",)),
        ("buttock", ("buttock",)),
        ("calf", ("below_knee",)),
        ("foot", ("below_knee",)),
        ("shin", ("below_knee",)),
        ("my hip, my back and my hip again", ("hip_front", "lower_back")),
        ("nowhere really", ()),
    ],
)
def test_parse_areas(lexicon: Lexicon, text: str, expected: tuple[str, ...]) -> None:
    found = parse_areas(text, lexicon)
    assert found == expected
    assert set(found) <= set(AREAS)


# --------------------------------------------------------------------------- robustness

ODD_INPUTS = [
    "",
    "   \n\t ",
    "😀🦵🔥" * 50,
    "مرحبا، ظهري يؤلمني \u202e no fever \u202c",
    "\x00\x01\x07\x1b[31mno fever\x1b[0m\u200b\ufeff",
    "no numb " * 800,
    "-'" * 3000,
    "a" * 20000,
    "I" + "'m" * 3000,
]


@pytest.mark.parametrize("text", ODD_INPUTS)
def test_odd_input_never_raises(lexicon: Lexicon, text: str) -> None:
    findings = understand(text, lexicon)
    assert isinstance(findings, Findings)
    for parse in (parse_yes_no, parse_pain_score, parse_duration_weeks, parse_age, parse_areas):
        parse(text, lexicon)


def _long_message() -> str:
    story = (
        "I'm a 47-year-old woman 🙂 and I've had bad low back pain for a week\x07, "
        "and since yesterday it's been going down the backs of both legs 🦵 to my calves. "
        "Since this morning I can't pass urine even though I feel I need to. "
        "The pain is 8/10.\u200b No fever. "
    )
    text = ""
    while len(text) < 5000:
        text += story
    return text[:5000]


def test_long_message_with_emoji_and_control_characters(lexicon: Lexicon) -> None:
    text = _long_message()
    assert len(text) == 5000
    findings = understand(text, lexicon)
    assert findings.flags["bladder_bowel_change"] is True
    assert findings.flags["bilateral_leg_symptoms"] is True
    assert findings.flags["fever"] is False
    assert findings.pain_now == 8


def test_a_warning_sign_anywhere_in_a_long_story_is_found(lexicon: Lexicon) -> None:
    """Every character is read: the flag is found at the start, the middle and the end of
    20,000 characters of rambling (speed is measured in bench/, not here)."""
    filler = "my back has been stiff after work again and I sat on the sofa all evening. " * 270
    assert len(filler) > 20_000
    flag = "Since this morning I can't pass urine at all. "
    for text in (flag + filler, filler[:10_000] + flag + filler[10_000:], filler + flag):
        assert understand(text, lexicon).flags.get("bladder_bowel_change") is True


def test_the_largest_text_is_read_to_its_last_character(lexicon: Lexicon) -> None:
    denial = "no numbness, no fever. "
    flag = "Numb when I wipe since today."
    text = denial * ((MAX_TEXT_CHARS - len(flag)) // len(denial)) + flag
    assert len(text) <= MAX_TEXT_CHARS
    findings = understand(text, lexicon)
    assert findings.flags.get("saddle_numbness") is True
    assert findings.flags.get("fever") is False


# --------------------------------------------------------------------------- lexicon errors


def _write_variant(tmp_path: Path, change: Any) -> Path:
    data = yaml.safe_load(LEXICON_PATH.read_text(encoding="utf-8"))
    change(data)
    shutil.copy(LEXICON_PATH.parent / "keys.yaml", tmp_path / "keys.yaml")
    path = tmp_path / "xx.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def test_real_lexicon_loads() -> None:
    lexicon = load_lexicon(LEXICON_PATH)
    assert {rule.key for rule in lexicon.flags} == set(BOOLEAN_KEYS)


def test_invalid_regex_names_file_and_key(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["flags"]["fever"]["patterns"][2] = "(unclosed"

    path = _write_variant(tmp_path, change)
    with pytest.raises(LexiconError) as error:
        load_lexicon(path)
    message = str(error.value)
    assert str(path) in message
    assert "flags.fever.patterns[2]" in message
    assert "invalid regex" in message


def test_missing_section_names_file_and_section(tmp_path: Path) -> None:
    path = _write_variant(tmp_path, lambda data: data.pop("negation"))
    with pytest.raises(LexiconError, match=r"xx\.yaml: negation: missing section"):
        load_lexicon(path)


def test_folded_letters_are_read_as_typed_and_a_bad_mapping_is_rejected(tmp_path: Path) -> None:
    """A language may fold letters people often type another way ("ü" as "ue"): the text
    is folded before its patterns read it, and a mapping of more than one letter is refused."""

    def fold(data: dict[str, Any]) -> None:
        data["normalise"]["characters"] = {"ü": "ue"}
        data["flags"]["fever"]["patterns"].append(r"\bfuever\b")

    folded = load_lexicon(_write_variant(tmp_path, fold))
    assert understand("I have fuever", folded).flags.get("fever") is True
    assert understand("I have füver", folded).flags.get("fever") is True

    def broken(data: dict[str, Any]) -> None:
        data["normalise"]["characters"] = {"ue": "u"}

    with pytest.raises(LexiconError, match=r"xx\.yaml: normalise\.characters: must map single letters"):
        load_lexicon(_write_variant(tmp_path, broken))


def test_unknown_flag_key_is_rejected(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["flags"]["sore_elbow"] = {"patterns": ["elbow"]}

    path = _write_variant(tmp_path, change)
    with pytest.raises(LexiconError, match=r"xx\.yaml: flags\.sore_elbow: unknown answer key"):
        load_lexicon(path)


def test_missing_flag_key_is_rejected(tmp_path: Path) -> None:
    path = _write_variant(tmp_path, lambda data: data["flags"].pop("saddle_numbness"))
    with pytest.raises(LexiconError, match=r"flags\.saddle_numbness: missing"):
        load_lexicon(path)


def test_unknown_placeholder_and_area_are_rejected(tmp_path: Path) -> None:
    def placeholder(data: dict[str, Any]) -> None:
        data["flags"]["hernia"]["patterns"] = ["{nonsense}hernia"]

    with pytest.raises(LexiconError, match=r"flags\.hernia\.patterns\[0\]: unknown placeholder"):
        load_lexicon(_write_variant(tmp_path, placeholder))

    def area(data: dict[str, Any]) -> None:
        data["areas"]["elbow"] = {"patterns": ["elbow"]}

    with pytest.raises(LexiconError, match=r"areas\.elbow: unknown area"):
        load_lexicon(_write_variant(tmp_path, area))


def test_unreadable_or_malformed_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    with pytest.raises(LexiconError, match=r"missing\.yaml"):
        load_lexicon(missing)
    broken = tmp_path / "broken.yaml"
    broken.write_text("flags: [unclosed\n", encoding="utf-8")
    with pytest.raises(LexiconError, match=r"broken\.yaml: invalid YAML"):
        load_lexicon(broken)


# --------------------------------------------------------------------------- sample cases

# Keys whose recall is checked: every red flag and context key.
RECALLED = set(RED_FLAG_KEYS) | set(CONTEXT_KEYS)


def _samples() -> list[dict[str, Any]]:
    if not SAMPLES.exists():
        pytest.skip("../shared/vignettes not present; sample cases live beside the repository")
    data = yaml.safe_load(SAMPLES.read_text(encoding="utf-8"))
    vignettes: list[dict[str, Any]] = data["vignettes"]
    return vignettes


def test_sample_vignettes(lexicon: Lexicon) -> None:
    problems: list[str] = []
    for case in _samples():
        answers = case["answers"]
        findings = understand(case["narrative"], lexicon)
        for key in RECALLED:
            if answers.get(key) is True and findings.flags.get(key) is not True:
                problems.append(f"{case['id']}: missed {key}")
        for key in RED_FLAG_KEYS:
            # No exceptions are needed in the samples: nothing marked false is affirmed.
            if answers.get(key) is False and findings.flags.get(key) is True:
                problems.append(f"{case['id']}: false {key}")
        for key in ("pain_now", "age", "sex"):
            if answers.get(key) is not None and getattr(findings, key) != answers[key]:
                problems.append(f"{case['id']}: {key} {getattr(findings, key)} != {answers[key]}")
        expected = answers.get("duration_weeks")
        found = findings.duration_weeks
        if expected is not None and (found is None or not expected / 1.5 <= found <= expected * 1.5):
            problems.append(f"{case['id']}: duration {found} vs {expected}")
        if set(findings.pain_location) != set(answers.get("pain_location", [])):
            problems.append(f"{case['id']}: pain_location {findings.pain_location}")
        if set(findings.radiates_to) != set(answers.get("radiates_to", [])):
            problems.append(f"{case['id']}: radiates_to {findings.radiates_to}")
    assert not problems, "\n".join(problems)


def test_sample_vignettes_negations_are_seen(lexicon: Lexicon) -> None:
    """The samples' explicit "no ..." statements come back as False, not just absent."""
    by_id = {case["id"]: case for case in _samples()}
    expected = {
        "s03": ["leg_numbness"],
        "s05": ["trauma", "leg_numbness"],
        "s06": ["fever"],
        "s07": ["steroid_use", "bladder_bowel_change", "fever"],
        "s09": ["leg_numbness", "fever"],
        "s10": ["leg_weakness_progressive", "bladder_bowel_change"],
        "s11": ["unexplained_weight_loss"],
        "s13": ["bladder_bowel_change"],
    }
    for case_id, keys in expected.items():
        flags = understand(by_id[case_id]["narrative"], lexicon).flags
        for key in keys:
            assert flags.get(key) is False, f"{case_id}: {key} should be negated"
