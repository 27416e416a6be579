"""The German reader: warning signs in how people type German on a phone, each beside the
same sign denied, over, or someone else's; ages and durations in German forms."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.understanding import (
    Lexicon,
    load_lexicon,
    parse_age,
    parse_duration_weeks,
    parse_yes_no,
    understand,
)

LEXICON_PATH = Path(__file__).resolve().parents[1] / "content" / "understanding" / "de.yaml"


@pytest.fixture(scope="module")
def de() -> Lexicon:
    return load_lexicon(LEXICON_PATH)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (
            "Seit heute Nacht krieg ich kein Wasser mehr raus, obwohl die Blase drückt.",
            "bladder_bowel_change",
        ),
        (
            "seit gestern kann ich nicht mehr richtig pinkeln, kommt nur tröpfchenweise",
            "bladder_bowel_change",
        ),
        ("hab mir heute nacht ins bett gemacht ohne es zu merken", "bladder_bowel_change"),
        ("beim einkaufen ist mir urin abgegangen und ich hab's erst später bemerkt", "bladder_bowel_change"),
        ("seit dem wochenende kann ich kaum noch pinkeln", "bladder_bowel_change"),
        ("Beim Abwischen spüre ich das Klopapier kaum noch.", "saddle_numbness"),
        ("untenrum ist alles taub seit dem aufstehen", "saddle_numbness"),
        ("ich hab seit vorgestern fieber, gestern abend 38,9", "fever"),
        ("mein linker fuss schleift beim gehen und es wird jeden tag schlimmer", "leg_weakness_progressive"),
        ("ich nehme Xarelto wegen Vorhofflimmern", "anticoagulants"),
        ("bin in der 20. SSW", "pregnant"),
        ("Meine Beule in der Leiste ist hart geworden und geht nicht mehr rein", "hernia_irreducible"),
        ("Leistenbruch seit Jahren bekannt", "hernia"),
        ("Schmerzen in der Huefte und mir ist schwarz vor Augen geworden", "fainting"),
    ],
)
def test_a_warning_sign_typed_in_german_is_found(de: Lexicon, text: str, key: str) -> None:
    assert understand(text, de).flags.get(key) is True


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Fieber hab ich keins, hab extra gemessen.", "fever"),
        ("kein fieber, keine taubheit, blase und darm ganz normal", "fever"),
        ("kein fieber, keine taubheit, blase und darm ganz normal", "bladder_bowel_change"),
        ("Pinkeln geht ganz normal, Stuhlgang wie immer.", "bladder_bowel_change"),
        ("Blutverdünner nehm ich keine.", "anticoagulants"),
        ("weder Kribbeln noch Taubheit in den Beinen", "leg_numbness"),
        ("Gestürzt bin ich nicht, es kam einfach so.", "trauma"),
        ("schwanger bin ich nicht, test war negativ", "pregnant"),
    ],
)
def test_the_same_sign_denied_is_not_a_finding(de: Lexicon, text: str, key: str) -> None:
    assert understand(text, de).flags.get(key) is not True


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Vor acht Jahren hatte ich mal einen Fahrradunfall, ist alles gut verheilt.", "trauma"),
        ("im Winter hatte ich Fieber, das ist längst vorbei", "fever"),
        ("Vor zehn Jahren wurde mir der Blinddarm entfernt.", "recent_abdominal_surgery"),
    ],
)
def test_the_same_sign_long_over_is_not_a_finding(de: Lexicon, text: str, key: str) -> None:
    assert understand(text, de).flags.get(key) is not True


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Meine Oma hatte Darmkrebs, ich selbst nie.", "cancer_history"),
        ("Mein Bruder ist Marcumar-Patient, ich nehme nichts.", "anticoagulants"),
        ("Meine Schwester ist schwanger und ich helfe ihr beim Umzug.", "pregnant"),
    ],
)
def test_the_same_sign_of_another_person_is_not_the_writers(de: Lexicon, text: str, key: str) -> None:
    assert understand(text, de).flags.get(key) is not True


def test_a_hypothetical_warning_sign_is_not_a_finding(de: Lexicon) -> None:
    text = "Falls ich mal nicht mehr pinkeln kann, soll ich sofort in die Notaufnahme."
    assert understand(text, de).flags.get("bladder_bowel_change") is not True


def test_umlauts_typed_as_letters_or_left_out_read_the_same(de: Lexicon) -> None:
    for text in ("Ich nehme Blutverdünner.", "Ich nehme Blutverduenner.", "ICH NEHME BLUTVERDÜNNER"):
        assert understand(text, de).flags.get("anticoagulants") is True, text


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("ich bin 58 und hatte das noch nie", 58),
        ("w, 63", 63),
        ("Ziehen in der Leiste. 44 m", 44),
        ("bin 71 Jahre alt", 71),
    ],
)
def test_an_age_in_german(de: Lexicon, text: str, age: int) -> None:
    assert understand(text, de).age == age


@pytest.mark.parametrize(
    ("text", "weeks"),
    [
        ("Das Ziehen in der Hüfte habe ich seit 3 Wochen.", 3.0),
        ("Rückenschmerzen seit zehn Tagen", 1.43),
        ("hat vor zwei Wochen angefangen mit dem Ziehen", 2.0),
        ("die Leiste tut seit einem Monat weh", 4.345),
    ],
)
def test_a_duration_in_german(de: Lexicon, text: str, weeks: float) -> None:
    found = understand(text, de).duration_weeks
    assert found is not None and abs(found - weeks) < 0.05


def test_typed_answers_in_german(de: Lexicon) -> None:
    assert parse_age("bin 47", de) == 47
    assert parse_duration_weeks("seit 2 Wochen", de) == pytest.approx(2.0)
    assert parse_yes_no("ja", de) is True
    assert parse_yes_no("nee", de) is False
    assert parse_yes_no("ne, hab ich nicht", de) is False
    assert parse_yes_no("jo", de) is True
    assert parse_yes_no("keine Ahnung", de) is None


@pytest.mark.parametrize(
    "text",
    [
        "Ich habe kein Fieber und kann seit heute nicht mehr pinkeln.",
        "Ich kann nicht mehr richtig laufen und nicht mehr pinkeln.",
        "Keine Taubheit in den Beinen, aber ich kann kein Wasser mehr lassen.",
    ],
)
def test_a_denial_earlier_in_the_sentence_does_not_cancel_a_later_sign(de: Lexicon, text: str) -> None:
    """German puts "nicht" inside the sign itself ("kann nicht pinkeln") and drops the
    subject after "und": neither may let an earlier "kein" deny what follows."""
    assert understand(text, de).flags.get("bladder_bowel_change") is True


def test_a_message_opening_with_a_relative_and_their_age_is_about_them(de: Lexicon) -> None:
    found = understand("Meine Oma (84) ist heute gestürzt und kann nicht mehr auftreten.", de)
    assert found.proxy is True
    assert found.age == 84
    assert found.sex == "F"
    assert found.flags.get("trauma") is True
    assert found.flags.get("unable_to_bear_weight") is True
