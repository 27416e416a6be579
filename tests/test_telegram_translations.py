"""German and Spanish on Telegram, as their speakers get them: `psoasbot run` as a real process
against the Bot API stand-in, with the repository's own content (no copy, no look-alikes).

Every label tapped and every text waited for is taken from the language's messages file by
key, so the test follows the translation; what it checks is that a person whose app reports
the language gets the whole check in it, that no English sentence reaches them, and that a
warning sign typed in their own words mid-check escalates.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from tests.support import ROOT, core, rows
from tests.telegram_support import WAIT, BotProcess, TelegramUser, everything_shown, new_standin

MESSAGES = ROOT / "content" / "messages"

# (key of the button tapped, key of the text that must follow), the whole check by buttons.
CHECK_BY_BUTTONS: list[tuple[str, str]] = [
    ("question.consent.option.yes", "question.pain_location.text"),
    ("area.hip_front", "question.pain_location.text"),
    ("common.done", "question.radiates_to.text"),
    ("common.none_of_these", "question.sitting.text"),
    ("question.sitting.option.both", "question.duration.text"),
    ("question.duration.option.one_to_three_weeks", "question.pain_now.text"),
    ("=3", "question.emergency_screen.text"),
    ("common.no", "question.serious_screen.text"),
    ("common.no", "question.precautions_screen.text"),
    ("common.no", "question.age.text"),
    ("question.age.option.from_30_to_49", "question.sex.text"),
    ("question.sex.option.female", "question.activity.text"),
    ("question.activity.option.mostly_sitting", "question.previously_assessed.text"),
    ("common.no", "question.anything_else.text"),
    ("common.skip", "result.title.SELF_CARE"),
]

# A warning sign in each language's everyday words, typed in the middle of the check: new
# trouble passing urine and numbness where one sits (cauda equina signs; an emergency).
TYPED_WARNING_SIGN = {
    "de": "seit heute früh kann ich kaum noch pinkeln und untenrum ist alles irgendwie taub",
    "es": "desde esta mañana casi no puedo orinar y tengo como dormida la zona de entre las piernas",
}
APP_LANGUAGE = {"de": "de-DE", "es": "es-MX"}


@cache
def _flat(language: str) -> dict[str, str]:
    """Every sentence of the language by key, a list's lines as `key[n]` (the bot's own
    reading of content/messages/<language>.yaml)."""
    flat: dict[str, str] = {}
    for key, value in core().content.in_language(language).messages.entries.items():
        lines = value if isinstance(value, tuple) else (value,)
        for index, line in enumerate(lines):
            flat[key if len(lines) == 1 else f"{key}[{index}]"] = line
    return flat


def said(language: str, key: str) -> str:
    """A recognisable part of the message at `key`: its first line up to the first placeholder."""
    if key.startswith("="):
        return key[1:]
    first_line = _flat(language)[key].strip().splitlines()[0]
    return first_line.split("{")[0].strip()[:60]


def untranslated(language: str, shown: str) -> list[str]:
    """English sentences of en.yaml on screen where the language has its own words."""
    english, own = _flat("en"), _flat(language)
    shown = " ".join(shown.split())
    found = []
    for key, sentence in english.items():
        sentence = " ".join(sentence.split())
        if key.startswith("language.") or own.get(key) == sentence:
            continue
        for part in re.split(r"\{[^{}]*\}", sentence):
            part = part.strip()
            if len(part) >= 24 and " " in part and part in shown:
                found.append(f"{key}: {part}")
    return found


@pytest.fixture()
async def standin():
    async with new_standin() as running:
        yield running


@pytest.fixture()
async def bot(standin, tmp_path: Path):
    process = BotProcess(standin, tmp_path)
    await process.start()
    yield process
    await process.stop()


@pytest.mark.parametrize("language", ["de", "es"])
async def test_a_whole_check_and_a_typed_warning_sign_in_the_persons_language(standin, bot, language: str):
    if not (MESSAGES / f"{language}.yaml").exists():
        pytest.fail(f"content/messages/{language}.yaml is missing")
    # By buttons, start to routine, in the language the app reports.
    standin.add_user(7001, language_code=APP_LANGUAGE[language])
    user = TelegramUser(standin, 7001)
    await user.command("/start", said(language, "question.consent.text"))
    for label, expect in CHECK_BY_BUTTONS:
        await user.tap(said(language, label), said(language, expect))
    await standin.wait_for_message(user.chat_id, said(language, "routine_view.heading"), timeout=WAIT)
    await user.command("/routine", said(language, "routine_view.heading"))
    shown = everything_shown(standin, user.chat_id)
    assert untranslated(language, shown) == []
    assert rows(bot.db, "SELECT language, language_set FROM users") == [(language, 0)]
    assert rows(bot.db, "SELECT urgency FROM assessments") == [("SELF_CARE",)]

    # A warning sign typed in the person's own words in the middle of the check.
    standin.add_user(7002, language_code=APP_LANGUAGE[language])
    other = TelegramUser(standin, 7002)
    await other.command("/start", said(language, "question.consent.text"))
    for label, expect in CHECK_BY_BUTTONS[:5]:
        await other.tap(said(language, label), said(language, expect))
    await other.say(TYPED_WARNING_SIGN[language], said(language, "result.title.EMERGENCY"))
    shown = everything_shown(standin, other.chat_id)
    assert untranslated(language, shown) == []
    for both_signs in ("red_flag.cauda_equina_bladder_bowel.reason", "red_flag.cauda_equina_saddle.reason"):
        assert said(language, both_signs) in shown  # each sign typed is read and given as a reason
    urgencies = rows(bot.db, "SELECT urgency FROM assessments ORDER BY id")
    assert urgencies == [("SELF_CARE",), ("EMERGENCY",)]
