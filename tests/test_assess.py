"""`psoasbot assess` as outside tools call it: a real process, JSON in and out."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import ROOT

GOOD = {
    "pain_location": ["lower_back", "hip_front"],
    "worse_when_sitting": True,
    "worse_rising_from_chair": True,
    "duration_weeks": 2,
    "pain_now": 4,
    "age": 38,
    "sex": "F",
}


def run(stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "assess", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )


def test_good_input_answers_per_the_contract():
    done = run(json.dumps(GOOD))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result) == {"urgency", "reasons", "ball_release_allowed", "routine", "message"}
    assert result["urgency"] == "SELF_CARE"
    assert result["ball_release_allowed"] is True
    assert result["routine"] == "ball-release"
    assert "not a diagnosis" in result["message"]


def test_emergency_has_no_routine_and_says_what_to_do():
    done = run(json.dumps({**GOOD, "saddle_numbness": True}))
    result = json.loads(done.stdout)
    assert result["urgency"] == "EMERGENCY"
    assert result["routine"] is None
    assert result["ball_release_allowed"] is False
    assert "cauda_equina_saddle" in result["reasons"]
    assert "emergency" in result["message"].lower()


def test_text_alone_is_enough():
    done = run(json.dumps({"text": "I'm 47, my back hurts and since this morning I can't pass urine"}))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["urgency"] == "EMERGENCY"


def test_file_option(tmp_path: Path):
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(GOOD), encoding="utf-8")
    done = run("", "--file", str(path))
    assert done.returncode == 0
    assert json.loads(done.stdout)["urgency"] == "SELF_CARE"


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        (json.dumps({**GOOD, "favourite_colour": "blue"}), "unknown key 'favourite_colour'"),
        (json.dumps({**GOOD, "fever": "yes"}), "'fever' must be true or false"),
        (json.dumps({**GOOD, "fever": 1}), "'fever' must be true or false"),
        (json.dumps({**GOOD, "pain_now": 11}), "'pain_now' must be between 0 and 10"),
        (json.dumps({**GOOD, "pain_now": 4.5}), "'pain_now' must be a whole number"),
        (json.dumps({**GOOD, "age": -1}), "'age' must be between 0 and 120"),
        (json.dumps({**GOOD, "duration_weeks": -2}), "'duration_weeks' must be between"),
        (json.dumps({**GOOD, "sex": "female"}), "'sex' must be one of"),
        (json.dumps({**GOOD, "pain_location": ["knee"]}), "unknown area"),
        (json.dumps({**GOOD, "pain_location": "groin"}), "must be a list"),
        (json.dumps({"pain_now": 3}), "'pain_location' is required"),
        (json.dumps([GOOD]), "expected a JSON object"),
        ("{not json", "not valid JSON"),
        ("", "not valid JSON"),
    ],
    ids=[
        "unknown key",
        "string bool",
        "number bool",
        "out of range",
        "fraction",
        "negative age",
        "negative duration",
        "bad sex",
        "bad area",
        "area not list",
        "no location",
        "array",
        "not json",
        "empty",
    ],
)
def test_bad_input_exits_2_with_one_line(payload, needle):
    done = run(payload)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert needle in lines[0]


def test_missing_file_exits_2():
    done = run("", "--file", "/nonexistent/answers.json")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
