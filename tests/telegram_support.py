"""Running the real bot process against the Bot API stand-in, and acting as its user."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import datetime
from pathlib import Path

from tests.standin import BotApiStandIn, SentMessage
from tests.support import SHARED

TOKEN = "123456789:AAF-test-token-for-the-stand-in-only"
HTTP_CLIENTS = ("aiohttp", "httpx")
"""The request classes `psoasbot run` can use (PSOASBOT_HTTP). A bot process gets this process's
PSOASBOT_HTTP, so `PSOASBOT_HTTP=httpx pytest ...` runs every Telegram test on httpx; without it
the bot's default (aiohttp) runs, and tests/conftest.py runs a subset on both."""
BOTH_HTTP_CLIENTS = (
    "tests/test_telegram.py::test_a_full_self_care_check_with_buttons_only",
    "tests/test_telegram.py::test_a_user_who_blocked_the_bot_is_marked_inactive_without_retries",
    "tests/test_telegram.py::test_429_is_waited_out_and_the_message_still_arrives",
    "tests/test_telegram.py::test_server_errors_are_retried",
    "tests/test_telegram.py::test_mydata_sends_a_json_file_and_forget_deletes_everything",
    "tests/test_telegram.py::test_webhook_mode_refuses_a_wrong_secret_and_handles_the_right_one",
    "tests/test_telegram_reminders.py::test_reminders_across_daylight_saving_with_done_hurt_check_ins_chart_and_summary",
    "tests/test_faults.py::test_telegram_500s_and_a_10_second_hang_are_ridden_out_and_answers_caught_up_in_order",
)
"""End-to-end tests run once per request class: every kind of call (buttons, edits, callback
answers, uploads, the webhook) and every kind of failure (403, 429, 5xx, a 10 s hang). The rest
run on one class only, to keep CI short."""
API_SPEC = SHARED / "telegram-bot-api" / "api.json"
WAIT = 15.0
RUNNING: list[BotProcess] = []
"""Every bot a test started; tests/conftest.py kills any still alive when the test ends."""


def new_standin() -> BotApiStandIn:
    return BotApiStandIn(token=TOKEN, api_spec=API_SPEC if API_SPEC.is_file() else None)


class BotProcess:
    """`psoasbot run` as a real subprocess pointed at the stand-in."""

    def __init__(self, standin: BotApiStandIn, workdir: Path, *extra_args: str, **extra_env: str) -> None:
        self.standin = standin
        self.workdir = workdir
        self.db = workdir / "bot.db"
        self.log = workdir / "bot.log"
        self.args = extra_args
        self.env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_BASE_URL": standin.base_url,
            "PSOASBOT_DB": str(self.db),
            "PSOASBOT_POLL_TIMEOUT": "2",
            "PSOASBOT_TICK_SECONDS": "0.3",
            "PSOASBOT_OUTBOX_LEASE_SECONDS": "2",
            "PSOASBOT_LOG_LEVEL": "INFO",
            **extra_env,
        }
        self.process: asyncio.subprocess.Process | None = None

    async def start(self, wait_until_polling: bool = True) -> BotProcess:
        mark = self.standin.mark()
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                *self.args,
                cwd=self.workdir,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        RUNNING.append(self)
        await self.standin.wait_for_call("setMyCommands", since=mark, timeout=WAIT)
        if wait_until_polling:
            await self.standin.wait_for(lambda: self.standin.polling, timeout=WAIT, what="the bot polling")
        return self

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.process.wait(), timeout=WAIT)
        return self.process.returncode or 0

    def logs(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""


class TelegramUser:
    """One person in a private chat with the bot."""

    def __init__(self, standin: BotApiStandIn, chat_id: int = 5001) -> None:
        self.standin = standin
        self.chat_id = chat_id

    async def command(self, command: str, expect: str) -> SentMessage:
        mark = self.standin.mark()
        await self.standin.push_command(self.chat_id, command)
        return await self.standin.wait_for_message(self.chat_id, expect, timeout=WAIT, since=mark)

    async def say(self, text: str, expect: str) -> SentMessage:
        mark = self.standin.mark()
        await self.standin.push_text(self.chat_id, text)
        return await self.standin.wait_for_message(self.chat_id, expect, timeout=WAIT, since=mark)

    async def tap(self, label: str, expect: str) -> SentMessage:
        """Tap a button on the newest message that shows it, once it is on screen (long replies
        arrive in parts, and a reminder card may have arrived below the question since)."""

        def live_with_label() -> SentMessage | None:
            with_label = [
                m
                for m in self.standin.messages(self.chat_id)
                if m.buttons and any(label in text for text in m.button_texts)
            ]
            return with_label[-1] if with_label else None

        live = await self.standin.wait_for(live_with_label, timeout=WAIT, what=f"a button {label!r}")
        mark = self.standin.mark()
        await self.standin.press_button_labelled(self.chat_id, label, message_id=live.message_id)
        return await self.standin.wait_for_message(self.chat_id, expect, timeout=WAIT, since=mark)

    def live_question(self) -> SentMessage:
        """The newest message that still has buttons: what the user can answer now."""
        with_buttons = [m for m in self.standin.messages(self.chat_id) if m.buttons]
        assert with_buttons, "the bot shows no buttons"
        return with_buttons[-1]

    def texts(self) -> list[str]:
        return [m.text or "" for m in self.standin.messages(self.chat_id)]


def everything_shown(standin, chat_id: int) -> str:
    """Every text, caption and button label the bot has on screen in the chat now."""
    parts = []
    for message in standin.messages(chat_id):
        parts += [message.text or "", *message.button_texts]  # text is a photo's caption too
    return "\n".join(parts)


TYPICAL_TAPS: list[tuple[str, str]] = [
    ("Yes, let's start", "Where do you feel the pain?"),
    ("Front of the hip", "Where do you feel the pain?"),
    ("Done ✓", "Does the pain spread"),
    ("None of these", "How does sitting affect it?"),
    ("Worse sitting and getting up", "How long have you had this pain?"),
    ("1 to 3 weeks", "How bad is the pain"),
    ("3", "Do any of these apply to you right now?"),
    ("No", "Do any of these apply to you?"),
    ("No", "Some kinds of exercise need care"),
    ("No", "How old are you?"),
    ("30 to 49", "Which best describes you?"),
    ("Woman", "What does a normal week look like"),
    ("Mostly sitting", "already checked this same pain"),
    ("No", "anything else about the pain"),
    ("Skip", "This looks suitable for self-care"),
]


class Clock:
    """PSOASBOT_CLOCK_FILE: the bot's "now", moved by the test."""

    def __init__(self, path: Path, start: datetime) -> None:
        self.path = path
        self.set(start)

    def set(self, moment: datetime) -> None:
        self.moment = moment
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(moment.isoformat(), encoding="utf-8")
        tmp.replace(self.path)
