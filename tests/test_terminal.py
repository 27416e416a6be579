"""The terminal chat end to end: a real `psoasbot chat` process, scripted input,
a real SQLite file, and a SIGKILL in the middle of a conversation."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT


def chat_command(db: Path) -> list[str]:
    return [sys.executable, "-m", "bot", "chat", "--db", str(db), "--user", "alice"]


def test_piped_full_check_completes_and_quits_cleanly(tmp_path: Path):
    db = tmp_path / "chat.db"
    script = "\n".join(
        ["1", "1,3", "8", "1", "about 3 weeks", "4/10", "2", "2", "2", "38", "1", "1", "no", "skip", "/quit"]
    )
    done = subprocess.run(
        chat_command(db), input=script + "\n", capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "This looks suitable for self-care" in out
    assert "Your routine:" in out
    assert "Bye!" in out
    with sqlite3.connect(db) as connection:
        urgency, routine = connection.execute("SELECT urgency, routine FROM assessments").fetchone()
        answers = dict(connection.execute("SELECT key, value FROM answers").fetchall())
    assert urgency == "SELF_CARE" and routine == "ball-release"
    assert answers["pain_location"] == '["lower_back", "groin"]'
    assert answers["duration_weeks"] == "3.0" or float(answers["duration_weeks"]) == 3


def test_end_of_input_exits_with_status_0(tmp_path: Path):
    done = subprocess.run(
        chat_command(tmp_path / "c.db"), input="1\n", capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0
    assert "Where do you feel the pain?" in done.stdout


def test_a_red_flag_typed_mid_check_escalates(tmp_path: Path):
    script = "1\n1\nI can't feel anything when I wipe and I wet myself\n/quit\n"
    done = subprocess.run(
        chat_command(tmp_path / "c.db"), input=script, capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert "!! 🚨 Get emergency help now !!" in done.stdout
    assert "Your routine:" not in done.stdout


class Chat:
    """A live chat process, read up to each prompt."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.transcript = ""

    @classmethod
    async def start(cls, db: Path) -> Chat:
        process = await asyncio.create_subprocess_exec(
            *chat_command(db),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=ROOT,
        )
        chat = cls(process)
        await chat.until_prompt()
        return chat

    async def until_prompt(self) -> str:
        assert self.process.stdout is not None
        chunk = b""
        while not chunk.endswith(b"> "):
            piece = await asyncio.wait_for(self.process.stdout.read(1), timeout=30)
            if not piece:
                break
            chunk += piece
        text = chunk.decode()
        self.transcript += text
        return text

    async def say(self, line: str) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write((line + "\n").encode())
        await self.process.stdin.drain()
        return await self.until_prompt()


async def test_sigkill_mid_conversation_then_resume_where_the_user_was(tmp_path: Path):
    db = tmp_path / "chat.db"
    chat = await Chat.start(db)
    await chat.say("1")
    await chat.say("1,3")
    await chat.say("8")
    shown = await chat.say("1")
    assert "How long have you had this pain?" in shown
    chat.process.send_signal(signal.SIGKILL)
    assert await chat.process.wait() == -signal.SIGKILL

    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    again = await Chat.start(db)
    assert "Welcome back" in again.transcript
    assert "How long have you had this pain?" in again.transcript
    for line in ["2 weeks", "3", "2", "2", "2", "41", "2", "1", "no"]:  # "3" on the 0-10 scale is 3
        await again.say(line)
    final = await again.say("skip")
    assert "This looks suitable for self-care" in final
    await again.say("/quit")
    assert await again.process.wait() == 0
    with sqlite3.connect(db) as connection:
        answers = dict(connection.execute("SELECT key, value FROM answers").fetchall())
        checks = connection.execute("SELECT status FROM checks").fetchall()
    assert answers["pain_location"] == '["lower_back", "groin"]'  # given before the kill
    assert answers["pain_now"] == "3"  # given after it
    assert checks == [("completed",)]
    assert os.path.exists(db)


def test_a_mistyped_setting_stops_start_up_with_one_line_naming_it(tmp_path: Path):
    for value, why in (
        ("lots", "must be a number, not 'lots'"),
        ("5000", "must be between 1 and 1000, not 5000"),
    ):
        done = subprocess.run(
            chat_command(tmp_path / "c.db"),
            input="/quit\n",
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
            env={**os.environ, "PSOASBOT_BROADCAST_PER_SECOND": value},
        )
        assert done.returncode == 2
        assert done.stderr.strip().splitlines() == [f"psoasbot: PSOASBOT_BROADCAST_PER_SECOND {why}"]
        assert not (tmp_path / "c.db").exists()


def test_the_steps_show_each_picture_as_a_file_and_summary_writes_a_one_page_pdf(tmp_path: Path):
    """No picture can be shown in a terminal: each step names its picture's file, drawn into the
    cache folder beside the database; /summary writes the PDF there and prints its path."""
    from PIL import Image
    from pypdf import PdfReader

    db = tmp_path / "data" / "chat.db"
    # ... the typical check with the age range "30 to 49" tapped (3), then "How to do each one".
    script = ["1", "1,3", "8", "1", "about 3 weeks", "4/10", "2", "2", "2", "3", "1", "1", "no", "skip"]
    done = subprocess.run(
        chat_command(db),
        input="\n".join([*script, "1", "/summary", "/quit"]) + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=90,
        env={key: value for key, value in os.environ.items() if key != "PSOASBOT_CACHE_DIR"},
    )
    assert done.returncode == 0, done.stderr
    pictures = [Path(found) for found in re.findall(r"^\[picture: (.+\.png)\]$", done.stdout, re.MULTILINE)]
    assert len(pictures) == 4  # the ball-release routine's four exercises, each under its title
    for picture in pictures:
        assert picture.parent == (tmp_path / "data" / "cache").resolve()
        with Image.open(picture) as image:
            image.verify()
            assert image.format == "PNG" and min(image.size) >= 600
    saved = re.search(r"^Saved as a PDF: (.+\.pdf)$", done.stdout, re.MULTILINE)
    assert saved is not None, done.stdout[-2000:]
    pdf = PdfReader(saved.group(1))
    assert len(pdf.pages) == 1
    text = pdf.pages[0].extract_text()
    assert "30 to 49" in text and "Ball release routine" in text and "not a diagnosis" in text


def test_the_cache_folder_is_beside_the_database_unless_set(monkeypatch, tmp_path: Path):
    from bot.config import Settings

    monkeypatch.delenv("PSOASBOT_CACHE_DIR", raising=False)
    settings = Settings.from_environment(dotenv=tmp_path / "no.env")
    assert settings.cache_for("/var/lib/psoasbot/psoasbot.db") == Path("/var/lib/psoasbot/cache")
    assert settings.cache_for("postgresql://bot@db.example.org/psoasbot") == Path("data/cache")
    monkeypatch.setenv("PSOASBOT_CACHE_DIR", str(tmp_path / "pictures"))
    settings = Settings.from_environment(dotenv=tmp_path / "no.env")
    assert settings.cache_for("/var/lib/psoasbot/psoasbot.db") == tmp_path / "pictures"
