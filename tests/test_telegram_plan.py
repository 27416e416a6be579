"""The plan end to end, as a person on Telegram lives it: the real bot process, the Bot API
stand-in, and a clock moved through a file (PSOASBOT_CLOCK_FILE).

Each test replays a case where the follow-up once contradicted the bot's own safety advice,
and checks what the phone now shows.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.support import rows
from tests.telegram_support import TYPICAL_TAPS, WAIT, BotProcess, Clock, TelegramUser, new_standin

BALL = "Face-down ball release"
START = datetime.fromisoformat("2026-03-27T12:00:00+00:00")


@pytest.fixture()
async def standin():
    async with new_standin() as running:
        yield running


def exercise_lines(text: str) -> list[str]:
    return re.findall(r"(?m)^\d+\. .+?:", text)


async def check_with_ball_release_and_reminders(user: TelegramUser, standin) -> None:
    """The typical self-care check (ball-release routine), reminders on Mon, Wed and Fri at 07:30 UTC."""
    await user.command("/start", "Shall we start?")
    for label, expect in TYPICAL_TAPS[:-1]:
        await user.tap(label, expect)
    await user.tap("Skip", "This looks suitable for self-care")
    routine = await standin.wait_for_message(user.chat_id, "Your routine:", timeout=WAIT)
    assert BALL in (routine.text or "")
    await user.tap("⏰ Set reminders", "Which time zone are you in?")
    await user.say("UTC", "On which days")
    await user.tap("Done ✓", "At what time?")
    await user.say("07:30", "Reminders set")


async def next_due(
    bot: BotProcess, clock: Clock, kind: str, standin, user: TelegramUser, expect: str
) -> None:
    due = rows(bot.db, "SELECT MIN(due_at) FROM reminders WHERE kind = ? AND status = 'active'", kind)[0][0]
    mark = standin.mark()
    clock.set(datetime.fromisoformat(due) + timedelta(seconds=5))
    await standin.wait_for_message(user.chat_id, expect, timeout=WAIT, since=mark)


async def test_after_it_hurt_the_routine_shows_no_ball_work_and_improvement_brings_no_second_ease(
    standin, tmp_path: Path
):
    clock = Clock(tmp_path / "clock.txt", START)
    bot = await BotProcess(standin, tmp_path, PSOASBOT_CLOCK_FILE=str(clock.path)).start()
    user = TelegramUser(standin)
    await check_with_ball_release_and_reminders(user, standin)

    await next_due(bot, clock, "session", standin, user, "Time for your routine")
    await user.tap("It hurt", "Which exercise was it?")
    await user.tap(BALL, "Where did you feel it?")
    await user.tap("Groin", "How much did it hurt")
    await user.tap("6", "Has it settled down now?")
    mark = standin.mark()
    await user.tap("No", "noted it")
    eased = await standin.wait_for_message(user.chat_id, "ease off", timeout=WAIT, since=mark)
    assert "no ball work" in (eased.text or "")

    routine = await user.command("/routine", "Your routine:")
    text = routine.text or ""
    assert BALL not in text and len(exercise_lines(text)) >= 1
    assert "Gentle routine while you wait" in text
    steps = await user.tap("📖 How to do each one", "You should feel:")
    assert BALL not in (steps.text or "")

    # The next morning: settled, pain 1 against the 3 it started at. Encouragement, no second ease.
    mark = standin.mark()
    await next_due(bot, clock, "day_after_checkin", standin, user, "Good morning")
    await user.tap("1", "worst it has been")
    await user.tap("2", "settled since?")
    await user.tap("Yes", "check-in noted")
    await standin.wait_for_message(user.chat_id, "clearly better", timeout=WAIT, since=mark)
    later = await next_due(bot, clock, "session", standin, user, "Time for your routine") or None
    card = [m for m in standin.messages(user.chat_id) if "Time for your routine" in (m.text or "")][-1]
    assert BALL not in (card.text or "") and later is None
    texts = [m.text or "" for m in standin.messages(user.chat_id)]
    assert sum("ease off" in text for text in texts) == 1
    await bot.stop()


async def test_while_paused_for_review_routine_shows_no_exercise_and_resuming_asks_first(
    standin, tmp_path: Path
):
    clock = Clock(tmp_path / "clock.txt", START)
    bot = await BotProcess(standin, tmp_path, PSOASBOT_CLOCK_FILE=str(clock.path)).start()
    user = TelegramUser(standin)
    await check_with_ball_release_and_reminders(user, standin)

    # The first weekly check-in: a fever has started.
    await next_due(bot, clock, "weekly_checkin", standin, user, "weekly check-in")
    await user.tap("3", "worst it has been")
    await user.tap("4", "have any of these started")
    await user.tap("No", "And have any of these started")
    await user.tap("Yes", "Which of these have started?")
    await user.tap("Fever or feeling unwell", "Which of these have started?")
    mark = standin.mark()
    await user.tap("Done ✓", "check-in noted")
    urgent = await standin.wait_for_message(
        user.chat_id, "Please see a doctor today", timeout=WAIT, since=mark
    )
    assert "Please don't start any exercises or ball work" in (urgent.text or "")

    await standin.wait_for_message(
        user.chat_id, "reminders and check-ins are on hold", timeout=WAIT, since=mark
    )
    held = await user.command("/routine", "Your exercises are on hold")
    assert not exercise_lines(held.text or "") and BALL not in (held.text or "")
    assert held.button_texts == ["▶ I've been checked"]
    before = len(standin.messages(user.chat_id))
    clock.set(clock.moment + timedelta(days=3))  # reminders fall due while paused: nothing is sent
    await standin.wait_for(
        lambda: (
            rows(bot.db, "SELECT MIN(due_at) FROM reminders WHERE kind = 'session'")[0][0]
            > clock.moment.isoformat()
        ),
        timeout=WAIT,
        what="the held reminders moving on",
    )
    assert len(standin.messages(user.chat_id)) == before

    # Resume from /reminders: one question first, and "not yet" keeps everything on hold.
    await user.command("/reminders", "on hold since")
    await user.tap("▶ I've been checked", "has a doctor or physiotherapist checked this pain")
    await user.tap("Not yet", "keep your exercises on hold")
    assert rows(bot.db, "SELECT state FROM plans") == [("paused",)]
    await user.command("/routine", "Your exercises are on hold")
    await user.tap("▶ I've been checked", "has a doctor or physiotherapist checked this pain")
    await user.tap("Yes, I've been checked", "restarted your plan gently")
    assert rows(bot.db, "SELECT state, routine FROM plans") == [("eased", "gentle-while-waiting")]
    assert [row[0] for row in rows(bot.db, "SELECT event FROM plan_events ORDER BY id")] == [
        "assessed_routine",
        "assessed_urgent",
        "not_yet_checked",
        "resumed_after_check",
    ]
    await bot.stop()


async def test_after_an_emergency_routine_repeats_the_advice(standin, tmp_path: Path):
    bot = await BotProcess(standin, tmp_path).start()
    user = TelegramUser(standin)
    await user.command("/start", "Shall we start?")
    await user.say("I can't feel my bum when I wipe", "Get emergency help now")
    again = await user.command("/routine", "Your exercises are on hold")
    assert "Call your emergency number" in (again.text or "") and not exercise_lines(again.text or "")
    await bot.stop()
