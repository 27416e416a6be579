"""Content and flow validation: broken files fail with the file and key named."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.core.app import build_core
from tests.support import ROOT, content_problems, copy_content_tree, edit_yaml


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    return copy_content_tree(tmp_path)


edit = edit_yaml


def problems(tree: Path) -> str:
    return "\n".join(content_problems(tree))


def test_shipped_content_is_valid():
    core = build_core(ROOT / "content", ROOT / "flows")
    assert len(core.content.exercises) >= 14
    assert len(core.content.routines) >= 5


def test_unknown_exercise_in_a_routine(tree):
    edit(
        tree / "content/routines.yaml",
        lambda d: d["routines"]["desk-sitter"]["exercises"].append("lunge_strech"),
    )
    found = problems(tree)
    assert "content/routines.yaml: routines.desk-sitter.exercises[" in found
    assert "lunge_strech" in found


def test_unreachable_state(tree):
    def add_island(d):
        d["states"].append({"name": "island", "question": "sex"})
        d["transitions"].append({"trigger": "answer", "source": "island", "dest": "result"})

    edit(tree / "flows/symptom_check.yaml", add_island)
    assert "'island' is unreachable" in problems(tree)


def test_state_with_no_way_out(tree):
    edit(
        tree / "flows/symptom_check.yaml",
        lambda d: d.__setitem__(
            "transitions", [t for t in d["transitions"] if t["source"] != "anything_else"]
        ),
    )
    found = problems(tree)
    assert "flows/symptom_check.yaml: states[" in found and "'anything_else' has no way out" in found


def test_condition_name_with_no_implementation(tree):
    edit(
        tree / "flows/symptom_check.yaml",
        lambda d: d["transitions"][0].__setitem__("conditions", ["is_tuesday"]),
    )
    found = problems(tree)
    assert "transitions[0].conditions[0]" in found and "'is_tuesday' has no implementation" in found


def test_missing_message_key(tree):
    edit(tree / "content/messages/en.yaml", lambda d: d["red_flag"].pop("cauda_equina_saddle"))
    found = problems(tree)
    assert "content/messages/en.yaml: red_flag.cauda_equina_saddle.reason: missing message" in found


def test_red_flag_rule_with_unknown_answer_key(tree):
    edit(tree / "content/red_flags.yaml", lambda d: d["rules"][0].__setitem__("when", {"any": ["fevr"]}))
    assert "content/red_flags.yaml: rules[0].when.any[0]: unknown answer key 'fevr'" in problems(tree)


def test_wrong_type_in_a_dose(tree):
    edit(
        tree / "content/exercises.yaml",
        lambda d: d["exercises"]["plank"]["dose"].__setitem__("hold_seconds", "long"),
    )
    assert "content/exercises.yaml: exercises.plank.dose.hold_seconds" in problems(tree)


def test_ball_pressure_in_the_safe_routine_is_refused(tree):
    edit(
        tree / "content/routines.yaml",
        lambda d: d["routines"]["no-abdominal-pressure"]["exercises"].insert(0, "prone_ball_release"),
    )
    assert "'prone_ball_release' puts pressure on the abdomen" in problems(tree)


def test_not_yaml_at_all(tree):
    (tree / "content/questions.yaml").write_text("questions: [unclosed", encoding="utf-8")
    assert "content/questions.yaml: not valid YAML" in problems(tree)


def test_several_problems_are_reported_together(tree):
    edit(
        tree / "content/routines.yaml", lambda d: d["routines"]["desk-sitter"]["exercises"].append("nope_one")
    )
    edit(tree / "content/red_flags.yaml", lambda d: d["rules"][0].__setitem__("when", "nope_two"))
    found = problems(tree)
    assert "nope_one" in found and "nope_two" in found


def _validate(tree: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PSOASBOT_CONTENT_DIR": str(tree / "content"),
        "PSOASBOT_FLOWS_DIR": str(tree / "flows"),
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", "validate"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tree,
        timeout=60,
    )


def test_validate_command_passes_on_shipped_content(tree):
    done = _validate(tree)
    assert done.returncode == 0, done.stderr
    assert "valid" in done.stdout


def test_validate_command_fails_clearly_on_broken_content(tree):
    edit(
        tree / "content/routines.yaml",
        lambda d: d["routines"]["desk-sitter"]["exercises"].append("lunge_strech"),
    )
    done = _validate(tree)
    assert done.returncode == 1
    assert "routines.desk-sitter.exercises[5]: unknown exercise 'lunge_strech'" in done.stderr
