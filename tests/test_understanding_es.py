"""The Spanish reader: warning signs in everyday Spanish, typed on a phone.

Each warning sign is written as people write it (with and without accents, in
Spain and in Latin America) beside the same sign denied, over and done with, or
someone else's, which must not raise it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.understanding import (
    Lexicon,
    LexiconError,
    load_lexicon,
    parse_age,
    parse_areas,
    parse_duration_weeks,
    parse_option,
    parse_pain_score,
    parse_yes_no,
    understand,
)

LEXICON_PATH = Path(__file__).resolve().parents[1] / "content" / "understanding" / "es.yaml"


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return load_lexicon(LEXICON_PATH)


# (text, key, expected): True = affirmed, False = explicitly negated,
# None = must not be affirmed (absent, negated, past or someone else's).
FLAG_CASES: list[tuple[str, str, bool | None]] = [
    # fever: affirmed, negated, resolved, someone else's
    ("Llevo dos días con calentura y escalofríos", "fever", True),
    ("anoche tenia 38,6 y me dolia la cintura", "fever", True),
    ("fiebre no tengo, me la he tomado esta mañana", "fever", False),
    ("No he tenido fiebre en ningún momento.", "fever", False),
    ("Tuve fiebre hace años por una gripe, ya se me pasó", "fever", None),
    ("Me duele la ingle desde el lunes, y mi hermano tiene fiebre", "fever", None),
    # saddle numbness
    ("Cuando me limpio no siento el papel", "saddle_numbness", True),
    ("tengo la entrepierna como dormida desde esta mañana", "saddle_numbness", True),
    ("Nada dormido entre las piernas, todo normal", "saddle_numbness", None),
    ("si algun dia se me duerme la zona de la entrepierna voy a urgencias", "saddle_numbness", None),
    # bladder and bowels
    ("Desde ayer no puedo hacer pis aunque tengo ganas", "bladder_bowel_change", True),
    ("esta mañana me hice encima sin darme cuenta", "bladder_bowel_change", True),
    ("orino normal y hago de vientre bien", "bladder_bowel_change", False),
    ("Se me escapan unas gotas cuando estornudo desde el parto", "bladder_bowel_change", None),
    # a leg getting weaker
    ("se me dobla la rodilla y cada día tengo menos fuerza en la pierna", "leg_weakness_progressive", True),
    ("voy arrastrando el pie izquierdo", "leg_weakness_progressive", True),
    ("ni debilidad ni nada, subo escaleras sin problema", "leg_weakness_progressive", None),
    # both legs
    ("Me hormiguean las dos piernas hasta los pies", "bilateral_leg_symptoms", True),
    ("Me duelen las dos caderas al levantarme", "bilateral_leg_symptoms", None),
    # numbness in a leg, and the crossed-legs kind that passes
    ("tengo el muslo dormido desde hace tres días", "leg_numbness", True),
    (
        "se me duerme la pierna si cruzo las piernas, me levanto y se me pasa en un minuto",
        "leg_numbness",
        None,
    ),
    # vascular signs
    ("me late la barriga como si tuviera un corazón ahí", "pulsating_abdominal_mass", True),
    ("Me dio de repente un dolor brutal en la espalda", "sudden_severe_onset", True),
    ("no fue de golpe, empezó poco a poco", "sudden_severe_onset", None),
    ("ayer me desmayé en la cocina", "fainting", True),
    ("ni mareos ni desmayos", "fainting", None),
    # injury
    ("Me caí por las escaleras el sábado", "trauma", True),
    ("No me he caído ni me he dado ningún golpe", "trauma", None),
    ("Me rompí el tobillo jugando hace quince años", "trauma", None),
    ("Me duele la ingle desde el lunes. Mi abuelo se cayó en la calle ayer.", "trauma", None),
    ("me dio un dolor de golpe al agacharme", "trauma", None),
    ("no puedo apoyar la pierna para nada", "unable_to_bear_weight", True),
    ("Camino cojeando desde el partido", "limp_or_pain_weight_bearing", True),
    ("no cojeo, camino normal", "limp_or_pain_weight_bearing", None),
    # infection and cancer
    ("Me operaron de un cáncer de mama hace ocho años", "cancer_history", True),
    ("Mi padre murió de cáncer de colon", "cancer_history", None),
    ("he perdido cinco kilos sin hacer nada", "unexplained_weight_loss", True),
    ("he perdido cinco kilos porque estoy a dieta", "unexplained_weight_loss", None),
    ("el dolor no me deja dormir, no encuentro postura", "night_pain_unrelenting", True),
    ("me pincho heroína desde hace meses", "iv_drug_use", True),
    ("me pincho insulina todos los días", "iv_drug_use", None),
    ("tomo tacrolimus por un trasplante de riñón", "immunosuppressed", True),
    # precautions for ball pressure
    ("Estoy embarazada de 12 semanas", "pregnant", True),
    ("No estoy embarazada", "pregnant", False),
    ("tomo sintrom por una arritmia", "anticoagulants", True),
    ("no tomo anticoagulantes", "anticoagulants", False),
    ("hace tres semanas me quitaron la vesícula", "recent_abdominal_surgery", True),
    ("me sacaron el apéndice hace veinte años", "recent_abdominal_surgery", None),
    ("tengo una hernia en la ingle", "hernia", True),
    ("tengo una hernia de disco en la L5", "hernia", None),
    ("la hernia se puso dura y ya no la puedo meter", "hernia_irreducible", True),
    ("tengo osteoporosis desde la menopausia", "osteoporosis", True),
    ("tengo enfermedad de crohn", "ibd", True),
    ("tomo prednisona todos los días", "steroid_use", True),
    ("me pusieron una infiltración de corticoides en la rodilla", "steroid_use", None),
    ("tengo un aneurisma de aorta que me controlan", "known_aaa", True),
    ("me salió un bulto en la ingle", "new_groin_lump", True),
    ("la cadera me hace clac y se me traba", "hip_clicking_locking", True),
    ("probé la pelota en la tripa y al día siguiente estaba peor", "worse_after_release", True),
    ("salgo a correr tres veces por semana", "high_impact_training", True),
    ("el dolor me corre por la pierna", "high_impact_training", None),
    ("la fisio me exploró y dice que es el psoas", "previously_assessed", True),
    ("no he ido al médico todavía", "previously_assessed", None),
]


@pytest.mark.parametrize(("text", "key", "expected"), FLAG_CASES)
def test_flag(lexicon: Lexicon, text: str, key: str, expected: bool | None) -> None:
    found = understand(text, lexicon).flags.get(key)
    if expected is None:
        assert found is not True, text
    else:
        assert found is expected, text


def test_accents_left_out_read_the_same(lexicon: Lexicon) -> None:
    with_accents = understand("no puedo orinar desde el miércoles, tengo 61 años", lexicon)
    without = understand("no puedo orinar desde el miercoles, tengo 61 anos", lexicon)
    assert with_accents.flags.get("bladder_bowel_change") is True
    assert without.flags.get("bladder_bowel_change") is True
    assert with_accents.age == without.age == 61


def test_a_message_for_someone_else_is_theirs(lexicon: Lexicon) -> None:
    found = understand("escribo por mi abuela de 84, se cayó ayer y no puede apoyar la pierna", lexicon)
    assert found.proxy
    assert found.age == 84
    assert found.sex == "F"
    assert found.flags.get("trauma") is True
    assert found.flags.get("unable_to_bear_weight") is True


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("tengo 58 años y me duele la ingle", 58),
        ("me duele la cadera. 47 años, mujer", 47),
        ("con 63 tacos es la primera vez", 63),
        ("(h, 29) me tira el psoas", 29),
        ("Tengo cincuenta y dos años", 52),
        ("la semana pasada cumplí los 71, nunca me había dolido", 71),
        ("desde anoche tengo 38,4 de fiebre", None),
    ],
)
def test_age(lexicon: Lexicon, text: str, age: int | None) -> None:
    assert understand(text, lexicon).age == age


@pytest.mark.parametrize(
    ("text", "weeks"),
    [
        ("me duele la ingle desde hace 3 semanas", 3.0),
        ("llevo mes y medio con este dolor", 6.52),
        ("hace diez días que me molesta la cadera", 1.43),
        ("dolor lumbar, 2 semanas, 4/10", 2.0),
        ("un año ya con esto", 52.18),
    ],
)
def test_duration(lexicon: Lexicon, text: str, weeks: float) -> None:
    found = understand(text, lexicon).duration_weeks
    assert found == pytest.approx(weeks, abs=0.05)


def test_pain_and_sex(lexicon: Lexicon) -> None:
    found = understand("me duele la ingle al levantarme, ahora un 6. 40 años, hombre", lexicon)
    assert found.pain_now == 6
    assert found.sex == "M"
    assert understand("3 sobre 10 más o menos", lexicon).pain_now == 3


def test_typed_answers(lexicon: Lexicon) -> None:
    assert parse_yes_no("sí, un poco", lexicon) is True
    assert parse_yes_no("no", lexicon) is False
    assert parse_yes_no("para nada", lexicon) is False
    assert parse_age("tengo 47", lexicon) == 47
    assert parse_pain_score("un 7", lexicon) == 7
    assert parse_duration_weeks("2 semanas", lexicon) == pytest.approx(2.0)
    assert set(parse_areas("la ingle y la cadera", lexicon)) == {"hip_front", "groin"}
    assert parse_option("prefiero no decirlo", "sex", lexicon) == "other"
    assert parse_option("mujer", "sex", lexicon) == "female"
    assert parse_option("trabajo en una oficina todo el día", "activity", lexicon) == "mostly_sitting"
    assert parse_option("al levantarme de la silla", "sitting", lexicon) == "getting_up"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sí", True),
        ("Si, a veces", True),
        ("claro", True),
        ("nop", False),
        ("creo que no", False),
        ("no sé", None),
        ("eso es", True),
        ("eso es todo", None),  # "that's all" is not a yes: at "has anyone checked it?" a yes lowers
    ],
)
def test_yes_no(lexicon: Lexicon, text: str, expected: bool | None) -> None:
    assert parse_yes_no(text, lexicon) is expected


def test_a_letter_map_entry_must_be_one_letter(tmp_path: Path) -> None:
    text = LEXICON_PATH.read_text(encoding="utf-8").replace("    'á': 'a'\n", "    'áá': 'a'\n", 1)
    broken = tmp_path / "es.yaml"
    broken.write_text(text, encoding="utf-8")
    with pytest.raises(LexiconError, match=r"normalise\.characters"):
        load_lexicon(broken)


def test_going_to_hospital_is_not_a_rule_of_thumb(lexicon: Lexicon) -> None:
    found = understand("tengo fiebre y no puedo caminar, mi hijo me lleva al hospital", lexicon)
    assert found.flags.get("fever") is True
    assert found.flags.get("unable_to_bear_weight") is True
    advice = understand("me dijo que si se me duerme la entrepierna me vaya directo a urgencias", lexicon)
    assert advice.flags.get("saddle_numbness") is not True


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("no he ido al médico y llevo 3 días con fiebre", "fever"),
        ("y si, tengo fiebre", "fever"),
        ("si me levanto no puedo apoyar la pierna", "unable_to_bear_weight"),
        ("te lo digo por si importa: no puedo orinar", "bladder_bowel_change"),
        ("llevo dos días sin poder orinar", "bladder_bowel_change"),
    ],
)
def test_a_denial_or_a_condition_does_not_reach_too_far(lexicon: Lexicon, text: str, key: str) -> None:
    assert understand(text, lexicon).flags.get(key) is True
