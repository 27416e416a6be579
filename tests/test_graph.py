"""`psoasbot graph` draws the real flow, and the README shows the current drawing."""

from __future__ import annotations

import subprocess
import sys

from tests.support import ROOT, core


def test_graph_draws_every_state_and_names_conditions():
    done = subprocess.run(
        [sys.executable, "-m", "bot", "graph"], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    for state in core().flow.states:
        assert f'state "{state}" as {state}' in done.stdout
    assert "consent --> pain_location: answer [answered_yes]" in done.stdout
    assert "emergency_detail --> result: answer [emergency_found]" in done.stdout


def test_readme_shows_the_current_flow_diagram():
    done = subprocess.run(
        [sys.executable, "-m", "bot", "graph"], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.stdout in (ROOT / "README.md").read_text(encoding="utf-8"), (
        "README.md's flow diagram is out of date: paste the output of `psoasbot graph`"
    )
