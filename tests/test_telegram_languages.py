"""People in their own language on Telegram: `psoasbot run` as a real process against the
Bot API stand-in, with a content copy holding one more language (tests/locale_support.py:
English in look-alike letters, so a plain English word on screen came from code)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.locale_support import PSEUDO_NAME, content_with_pseudo_language, english_words, pseudo
from tests.support import ROOT, rows
from tests.telegram_support import (
    TYPICAL_TAPS,
    WAIT,
    BotProcess,
    TelegramUser,
    everything_shown,
    new_standin,
)

MENU_ORDER = ["start", "check", "routine", "reminders", "progress", "summary", "timezone", "language"]


@pytest.fixture()
async def standin():
    async with new_standin() as running:
        yield running


@pytest.fixture()
async def bot(standin, tmp_path: Path):
    content = content_with_pseudo_language(tmp_path)
    process = BotProcess(
        standin,
        tmp_path,
        PSOASBOT_CONTENT_DIR=str(content),
        PSOASBOT_FLOWS_DIR=str(tmp_path / "flows"),
    )
    await process.start()
    yield process
    await process.stop()


async def test_a_whole_check_by_buttons_in_the_language_the_app_reports(standin, bot):
    standin.add_user(6001, language_code="de-AT")  # Austrian German: the German file
    user = TelegramUser(standin, 6001)
    await user.command("/start", pseudo("Shall we start?"))
    for label, expect in TYPICAL_TAPS:
        await user.tap(pseudo(label), pseudo(expect))
    await standin.wait_for_message(user.chat_id, pseudo("Your routine:"), timeout=WAIT)
    await user.tap(pseudo("📖 How to do each one"), pseudo("Safety notes:"))
    # A guided session: each step's picture comes with its legend, in the person's language too.
    await user.command("/routine", pseudo("Your routine:"))
    await user.tap(pseudo("▶ Start a session now"), pseudo("1 of 4: Face-down ball release"))
    second = await user.tap(pseudo("Next ▶"), pseudo("2 of 4: Kneeling hip flexor stretch"))
    assert second.kind == "photo" and pseudo("Picture 1: where you start") in (second.text or "")
    shown = everything_shown(standin, user.chat_id)
    assert not english_words(shown), english_words(shown)
    assert rows(bot.db, "SELECT language, language_set FROM users") == [("de", 0)]
    assert rows(bot.db, "SELECT urgency, routine FROM assessments") == [("SELF_CARE", "ball-release")]


async def test_the_command_menu_is_registered_in_every_language(standin, bot):
    english = yaml.safe_load((ROOT / "content/messages/en.yaml").read_text(encoding="utf-8"))
    descriptions = english["telegram"]["command"]
    default, german = standin.commands(), standin.commands(language_code="de")
    assert [c["command"] for c in default] == [c["command"] for c in german]
    assert [c["command"] for c in default][: len(MENU_ORDER)] == MENU_ORDER
    assert [c["description"] for c in default] == [descriptions[c["command"]] for c in default]
    assert [c["description"] for c in german] == [pseudo(descriptions[c["command"]]) for c in german]
    assert standin.commands(language_code="en")  # English speakers get theirs by name too


async def test_switching_language_mid_check_keeps_the_answers_and_asks_again(standin, bot):
    standin.add_user(6002, language_code="en-GB")
    user = TelegramUser(standin, 6002)
    await user.command("/start", "Shall we start?")
    for label, expect in TYPICAL_TAPS[:4]:
        await user.tap(label, expect)
    menu = await user.command("/language", "Which language would you like me to use?")
    assert menu.button_texts[0] == "✓ English" and PSEUDO_NAME in menu.button_texts
    mark = standin.mark()
    await user.tap(PSEUDO_NAME, pseudo("How does sitting affect it?"))
    switched = [m for m in standin.messages(user.chat_id) if m.sent_seq > mark]
    assert switched[0].text == pseudo("Done: I'll write in English from now on.")
    [spent] = [m for m in standin.messages(user.chat_id) if m.message_id == menu.message_id]
    assert not spent.buttons  # the menu's buttons are gone; the question below is the live one
    assert rows(bot.db, "SELECT state FROM conversations") == [("sitting",)]
    for label, expect in TYPICAL_TAPS[4:]:
        await user.tap(pseudo(label), pseudo(expect))
    assert rows(bot.db, "SELECT language, language_set FROM users") == [("de", 1)]
    answers = dict(rows(bot.db, "SELECT key, value FROM answers"))
    assert json.loads(answers["pain_location"]) == ["hip_front"]  # answered in English, kept
    # The choice wins over the English the app still reports.
    await user.command("/help", pseudo("I ask a few short questions"))
    await user.command("/language", pseudo("Which language would you like me to use?"))
    await user.tap("English", "Done: I'll write in English from now on.")
    assert rows(bot.db, "SELECT language, language_set FROM users") == [("en", 1)]
