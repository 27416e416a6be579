"""A non-editable install works away from the checkout: the wheel carries content/ and flows/.

The wheel is built from a copy of the sources (so the checkout gets no build/ or egg-info),
offline (--no-build-isolation, with the dev environment's setuptools), and installed into a
fresh virtual environment that borrows the dev environment's dependencies through a .pth
file, so nothing is downloaded. The bot then runs from a folder that is not the checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.support import ROOT

pytestmark = pytest.mark.packaging

SOURCES = ("pyproject.toml", "README.md", "bot", "content", "flows")


def run(*command: str | Path, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    # No PSOASBOT_* settings and no .env: the installed bot must find its data by itself.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PSOASBOT_", "TELEGRAM_"))}
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    for name in SOURCES:
        origin = ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(origin, source / name)
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        source,
        "--no-deps",
        "--no-index",
        "--no-build-isolation",
        "--quiet",
        "-w",
        work / "dist",
        cwd=work,
    )
    (built,) = (work / "dist").glob("psoasbot-*.whl")
    return built


def test_the_wheel_holds_every_package_and_all_content_and_flows(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("content", "flows"):
        for data in (ROOT / folder).rglob("*.yaml"):
            assert f"bot/{data.relative_to(ROOT).as_posix()}" in names, data
    for package in (ROOT / "bot").rglob("__init__.py"):
        assert package.relative_to(ROOT).as_posix() in names, (
            f"{package.parent} is missing from pyproject's packages"
        )


def test_the_installed_bot_validates_and_assesses_outside_the_checkout(wheel: Path, tmp_path: Path):
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    site_packages = Path(
        run(
            python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path
        ).stdout.strip()
    )
    # The dev environment's packages (python-telegram-bot, pip, ...) without its editable psoasbot:
    # a plain path in a .pth file adds the folder but does not run the .pth files inside it.
    (site_packages / "dev-environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run(
        python,
        "-m",
        "pip",
        "install",
        "--no-deps",
        "--no-index",
        "--ignore-installed",
        "--quiet",
        wheel,
        cwd=tmp_path,
    )

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = run(
        python,
        "-c",
        "import bot, bot.config as c; print(bot.__file__); print(c.data_dir('content'))",
        cwd=elsewhere,
    ).stdout.split()
    assert all(Path(p).is_relative_to(site_packages) for p in where), where

    validated = run(venv / "bin" / "psoasbot", "validate", cwd=elsewhere)
    assert validated.stdout.startswith("content and flows are valid:")
    answers = {"pain_location": ["groin"], "duration_weeks": 1, "pain_now": 3, "age": 40, "fever": True}
    assessed = json.loads(
        run(venv / "bin" / "psoasbot", "assess", cwd=elsewhere, stdin=json.dumps(answers)).stdout
    )
    assert assessed["urgency"] == "URGENT" and assessed["routine"] is None
