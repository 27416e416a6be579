"""Reminders end to end: the real bot process, the Bot API stand-in, and a clock
the test moves through a file (PSOASBOT_CLOCK_FILE), so days and a
daylight-saving change pass in seconds."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from tests.support import rows
from tests.telegram_support import TYPICAL_TAPS, WAIT, BotProcess, Clock, TelegramUser, new_standin

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture()
async def standin():
    async with new_standin() as running:
        yield running


def reminder_messages(standin, chat_id: int) -> list:
    return [m for m in standin.messages(chat_id) if "Time for your routine" in (m.text or "")]


async def set_up_reminders(user: TelegramUser, standin) -> None:
    await user.command("/start", "Shall we start?")
    for label, expect in TYPICAL_TAPS[:-1]:
        await user.tap(label, expect)
    await user.tap("Skip", "This looks suitable for self-care")
    await standin.wait_for_message(user.chat_id, "Your routine:", timeout=WAIT)
    await user.tap("⏰ Set reminders", "Which time zone are you in?")
    await user.say("Berlin", "On which days")
    days = user.live_question().button_texts
    assert "✓ Mon" in days and "✓ Wed" in days and "✓ Fri" in days and "Sat" in days  # the routine's cadence
    await user.tap("Sat", "On which days")
    await user.tap("Sun", "On which days")
    await user.tap("Done ✓", "At what time?")
    await user.say("07:30", "Reminders set")


async def test_reminders_across_daylight_saving_with_done_hurt_check_ins_chart_and_summary(
    standin, tmp_path: Path
):
    # Friday 27 March 2026, 12:00 UTC; Berlin moves to summer time early on Sunday 29 March.
    clock = Clock(tmp_path / "clock.txt", datetime(2026, 3, 27, 12, 0, tzinfo=UTC))
    bot = await BotProcess(standin, tmp_path, PSOASBOT_CLOCK_FILE=str(clock.path)).start()
    user = TelegramUser(standin)
    await set_up_reminders(user, standin)
    routine = rows(bot.db, "SELECT routine FROM plans")[0][0]

    async def next_reminder(expected_local_day: int) -> None:
        due = rows(bot.db, "SELECT due_at FROM reminders WHERE kind = 'session'")[0][0]
        moment = datetime.fromisoformat(due)
        local = moment.astimezone(BERLIN)
        assert (local.day, local.hour, local.minute) == (expected_local_day, 7, 30)
        before = len(reminder_messages(standin, user.chat_id))
        clock.set(moment + timedelta(seconds=5))
        await standin.wait_for(
            lambda: len(reminder_messages(standin, user.chat_id)) == before + 1,
            timeout=WAIT,
            what="a reminder",
        )

    await next_reminder(28)  # Saturday, CET: 06:30 UTC
    assert rows(bot.db, "SELECT occurrence FROM sessions")[-1][0].startswith("2026-03-28T06:30")
    card = reminder_messages(standin, user.chat_id)[-1]
    assert (card.text or "").count("⚠️") == 1 and "You should feel:" not in (card.text or "")
    steps = await user.tap("📖 How to do each one", "You should feel:")  # the how-to, as new messages
    assert steps.message_id != card.message_id and not steps.buttons
    assert user.live_question().message_id == card.message_id  # the card keeps its buttons
    await user.tap("✓ Done", "Well done")
    # The next-morning check-in (09:00 Berlin) comes before the next routine reminder? No: 07:30 first.
    await next_reminder(29)  # Sunday, CEST from 02:00: 05:30 UTC
    assert rows(bot.db, "SELECT occurrence FROM sessions")[-1][0].startswith("2026-03-29T05:30")
    await user.tap("It hurt", "Which exercise was it?")
    await user.tap("Glute bridge", "Where did you feel it?")
    await user.tap("Groin", "How much did it hurt")
    await user.tap("3", "Has it settled down now?")
    await user.tap("Yes", "noted it")

    async def check_in(now: int, worst: int, expect: str) -> None:
        due = rows(
            bot.db, "SELECT due_at FROM reminders WHERE kind = 'day_after_checkin' AND status = 'active'"
        )
        assert due, "a check-in should be scheduled"
        clock.set(datetime.fromisoformat(due[0][0]) + timedelta(seconds=5))
        await standin.wait_for_message(user.chat_id, "Good morning", timeout=WAIT)
        await user.tap(str(now), "worst it has been")
        await user.tap(str(worst), expect)

    await check_in(7, 8, "higher than when you started")  # baseline 3 -> 7: worse, once
    await next_reminder(30)
    await user.tap("✓ Done", "Well done")
    await check_in(7, 8, "Let's ease off")  # worse twice in a row
    assert rows(bot.db, "SELECT state, ball_withdrawn, routine FROM plans") == [
        ("eased", 1, "gentle-while-waiting")
    ]
    assert routine != "gentle-while-waiting"

    mark = standin.mark()
    await standin.push_command(user.chat_id, "/progress")
    photo_call = await standin.wait_for_call("sendPhoto", since=mark, timeout=WAIT)
    assert standin.photos(user.chat_id)[-1].data.startswith(b"\x89PNG\r\n\x1a\n")
    assert "Pain now 7/10" in str(photo_call.params.get("caption"))
    mark = standin.mark()
    await standin.push_command(user.chat_id, "/summary")
    await standin.wait_for_call("sendDocument", since=mark, timeout=WAIT)
    document = standin.documents(user.chat_id)[-1]
    assert document.file_name == "psoasbot-summary.pdf" and document.mime_type == "application/pdf"
    assert document.data is not None
    (tmp_path / document.file_name).write_bytes(document.data)  # kept with the test's files, to look at
    pdf = PdfReader(BytesIO(document.data))
    assert len(pdf.pages) == 1
    page = " ".join(pdf.pages[0].extract_text().split())
    assert "Eased to the Gentle routine while you wait" in page  # the plan's change, with its date
    assert "Your pain was clearly worse on two check-ins in a row" in page  # and why
    assert "7/10" in page and "not a diagnosis" in page
    await bot.stop()


async def test_restart_with_reminders_due_sends_each_once(standin, tmp_path: Path):
    clock = Clock(tmp_path / "clock.txt", datetime(2026, 3, 27, 12, 0, tzinfo=UTC))
    bot = await BotProcess(standin, tmp_path, PSOASBOT_CLOCK_FILE=str(clock.path)).start()
    user = TelegramUser(standin)
    await set_up_reminders(user, standin)
    await bot.stop()
    due = datetime.fromisoformat(rows(bot.db, "SELECT due_at FROM reminders WHERE kind = 'session'")[0][0])
    clock.set(due + timedelta(minutes=40))  # the bot was down when it fell due, for less than 2 hours
    await bot.start()
    await standin.wait_for(
        lambda: len(reminder_messages(standin, user.chat_id)) == 1, timeout=WAIT, what="reminder"
    )
    await standin.wait_for(
        lambda: rows(bot.db, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL") == [(0,)],
        timeout=WAIT,
        what="the reminder fully sent",
    )
    await bot.kill()
    await bot.start()  # and once more, straight after sending
    await asyncio.sleep(1.5)
    assert len(reminder_messages(standin, user.chat_id)) == 1
    assert len(rows(bot.db, "SELECT id FROM sessions")) == 1
    await bot.stop()


async def test_two_bot_processes_on_one_database_send_each_reminder_once(standin, tmp_path: Path):
    clock = Clock(tmp_path / "clock.txt", datetime(2026, 3, 27, 12, 0, tzinfo=UTC))
    first = await BotProcess(standin, tmp_path, PSOASBOT_CLOCK_FILE=str(clock.path)).start()
    users = [TelegramUser(standin, chat_id=7000 + n) for n in range(3)]
    for user in users:
        await set_up_reminders(user, standin)
    # Only one process may poll a token (a second poller, or a webhook set, stops it), so both
    # processes on the database run in webhook mode, as several instances of one bot would.
    await first.stop()
    first.args = ("--webhook", "http://127.0.0.1:9/unused", "--port", "0")
    first.env["TELEGRAM_WEBHOOK_SECRET"] = "x"
    await first.start(wait_until_polling=False)
    second = BotProcess(
        standin,
        tmp_path,
        "--webhook",
        "http://127.0.0.1:9/unused",
        "--port",
        "0",
        PSOASBOT_CLOCK_FILE=str(clock.path),
        TELEGRAM_WEBHOOK_SECRET="x",
    )
    second.log = tmp_path / "second.log"
    await second.start(wait_until_polling=False)
    due = datetime.fromisoformat(
        rows(first.db, "SELECT MIN(due_at) FROM reminders WHERE kind = 'session'")[0][0]
    )
    clock.set(due + timedelta(seconds=5))
    for user in users:
        await standin.wait_for(
            lambda user=user: len(reminder_messages(standin, user.chat_id)) >= 1,
            timeout=WAIT,
            what="reminders",
        )
    await asyncio.sleep(1.5)
    assert [len(reminder_messages(standin, user.chat_id)) for user in users] == [1, 1, 1]
    assert len(rows(first.db, "SELECT id FROM sessions")) == 3
    await second.stop()
    await first.stop()
