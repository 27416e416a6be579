"""The Telegram front end to end: `psoasbot run` as a real process, talking through
python-telegram-bot's real HTTP stack to the local Bot API stand-in."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support import rows
from tests.telegram_support import TOKEN, TYPICAL_TAPS, WAIT, BotProcess, TelegramUser, new_standin


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


async def complete_typical_check(user: TelegramUser) -> None:
    await user.command("/start", "Shall we start?")
    for label, expect in TYPICAL_TAPS:
        await user.tap(label, expect)


async def test_a_full_self_care_check_with_buttons_only(standin, bot):
    user = TelegramUser(standin)
    await complete_typical_check(user)
    routine = await standin.wait_for_message(user.chat_id, "Your routine:", timeout=WAIT)
    # Greeting, the one question message edited in place, the result, the routine.
    messages = standin.messages(user.chat_id)
    assert len(messages) == 4, user.texts()
    question = messages[1]
    assert question.edit_count >= len(TYPICAL_TAPS) - 1
    assert not question.buttons  # the finished question keeps no live buttons
    assert "<b>" not in (routine.text or "")  # HTML was parsed by "Telegram", not shown raw
    assert any(e.get("type") == "bold" for e in messages[2].entities)
    assert standin.unanswered_callbacks() == []
    assert len(standin.answered_callbacks()) == len(TYPICAL_TAPS)
    assert [c["command"] for c in standin.commands()] == [
        "start",
        "check",
        "routine",
        "reminders",
        "progress",
        "summary",
        "timezone",
        "language",
        "help",
        "cancel",
        "mydata",
        "forget",
    ]
    assert rows(bot.db, "SELECT urgency, routine FROM assessments") == [("SELF_CARE", "ball-release")]
    assert TOKEN not in bot.logs() and TOKEN.split(":")[1] not in bot.logs()


async def test_emergency_path_stands_out_and_offers_no_exercises(standin, bot):
    user = TelegramUser(standin)
    await user.command("/start", "Shall we start?")
    for label, expect in TYPICAL_TAPS[:6]:
        await user.tap(label, expect)
    await user.tap("8", "Do any of these apply to you right now?")
    await user.tap("Yes", "Which of these apply?")
    await user.tap("Numb around bottom or genitals", "Which of these apply?")
    result = await user.tap("Done ✓", "Get emergency help now")
    assert result.entities and result.entities[0]["type"] == "bold"
    assert "emergency department" in result.text
    assert not result.buttons or all("routine" not in t.lower() for t in result.button_texts)
    await asyncio.sleep(0.3)
    assert not any("Your routine:" in text for text in user.texts())


async def test_a_free_text_red_flag_in_the_middle_escalates_at_once(standin, bot):
    user = TelegramUser(standin)
    await user.command("/start", "Shall we start?")
    for label, expect in TYPICAL_TAPS[:4]:
        await user.tap(label, expect)
    await user.say("since this morning I can't pee at all", "Get emergency help now")
    assert rows(bot.db, "SELECT urgency FROM assessments") == [("EMERGENCY",)]


async def test_stale_and_forged_buttons_leave_the_state_alone(standin, bot):
    user = TelegramUser(standin)
    await user.command("/start", "Shall we start?")
    await user.tap("Yes, let's start", "Where do you feel the pain?")
    await user.tap("Groin", "Where do you feel the pain?")
    await user.tap("Done ✓", "Does the pain spread")
    question = user.live_question()

    # Forged data on the live message: answered, ignored, nothing changes.
    mark = standin.mark()
    await standin.press_button(user.chat_id, question.message_id, "1:zz", strict=False)
    await standin.press_button(user.chat_id, question.message_id, "'; DROP TABLE users; --", strict=False)
    await standin.wait_for(lambda: len(standin.answered_callbacks()) >= 5, timeout=WAIT, what="answers")
    await asyncio.sleep(0.3)
    assert not [c for c in standin.calls("sendMessage") if c.seq > mark]
    assert rows(bot.db, "SELECT state FROM conversations") == [("radiates_to",)]

    # A button from an older step (the consent question's "Yes"): a note, and the question again.
    mark = standin.mark()
    await standin.press_button(user.chat_id, question.message_id, "1:y", strict=False)
    await standin.wait_for_message(user.chat_id, "earlier question", timeout=WAIT, since=mark)
    again = await standin.wait_for(
        lambda: next((m for m in standin.messages(user.chat_id) if m.sent_seq > mark and m.buttons), None),
        timeout=WAIT,
        what="the question sent again",
    )
    assert "Does the pain spread" in (again.text or "")
    assert [m.message_id for m in standin.messages(user.chat_id) if m.buttons] == [again.message_id]
    assert rows(bot.db, "SELECT state FROM conversations") == [("radiates_to",)]
    assert "button rejected" in bot.logs()


async def test_odd_messages_get_a_friendly_answer_and_store_nothing_wrong(standin, bot):
    user = TelegramUser(standin)
    await user.command("/start", "Shall we start?")
    await user.tap("Yes, let's start", "Where do you feel the pain?")
    mark = standin.mark()
    await standin.push_sticker(user.chat_id)
    await standin.wait_for_message(user.chat_id, "only read typed text", timeout=WAIT, since=mark)
    await standin.push_photo(user.chat_id)
    await standin.wait_for_message(
        user.chat_id, "only read typed text", timeout=WAIT, since=standin.mark() - 1
    )
    await user.say("x" * 5000, "long message")
    await user.say("🙂🙃\x07\u202e", "Where do you feel the pain?")
    first_typed = min(standin.chat(user.chat_id).user_messages)
    await standin.push_edited_message(user.chat_id, first_typed, "edited")
    await standin.wait_for_message(user.chat_id, "edited messages", timeout=WAIT)
    await standin.push_group_text(-100123, "hello bot")
    await standin.wait_for_message(-100123, "private chats", timeout=WAIT)
    assert rows(bot.db, "SELECT state FROM conversations") == [("pain_location",)]
    assert rows(bot.db, "SELECT COUNT(*) FROM users") == [(1,)]
    assert rows(bot.db, "SELECT COUNT(*) FROM answers") == [(0,)]


async def test_a_user_who_blocked_the_bot_is_marked_inactive_without_retries(standin, bot):
    user = TelegramUser(standin)
    await user.command("/start", "Shall we start?")
    standin.block(user.chat_id)
    mark = standin.mark()
    await standin.push_text(user.chat_id, "yes")
    await standin.wait_for_call("editMessageReplyMarkup", since=mark, timeout=WAIT)
    await standin.wait_for(
        lambda: rows(bot.db, "SELECT active FROM users") == [(0,)], timeout=WAIT, what="user inactive"
    )
    sends = [
        c for c in standin.calls() if c.seq > mark and c.method in ("sendMessage", "editMessageReplyMarkup")
    ]
    assert len(sends) <= 2  # one try each, no retry storm
    standin.unblock(user.chat_id)
    await standin.push_my_chat_member(user.chat_id, "kicked", "member")
    await standin.wait_for(
        lambda: rows(bot.db, "SELECT active FROM users") == [(1,)], timeout=WAIT, what="user active again"
    )


async def test_429_is_waited_out_and_the_message_still_arrives(standin, bot):
    user = TelegramUser(standin)
    injection = standin.inject("sendMessage", error_code=429, retry_after=1, chat_id=user.chat_id)
    await user.command("/start", "Shall we start?")
    assert injection.hits == 1
    attempts = [
        c.time
        for c in standin.calls("sendMessage")
        if c.params.get("chat_id") in (user.chat_id, str(user.chat_id))
    ]
    assert attempts[1] - attempts[0] >= 0.95


async def test_server_errors_are_retried(standin, bot):
    user = TelegramUser(standin)
    injection = standin.inject("sendMessage", error_code=502, times=2, chat_id=user.chat_id)
    await user.command("/start", "Shall we start?")
    assert injection.hits == 2


async def test_sigkill_mid_conversation_then_restart_loses_nothing_and_repeats_nothing(standin, tmp_path):
    user = TelegramUser(standin)
    bot = await BotProcess(standin, tmp_path).start()
    await user.command("/start", "Shall we start?")
    await user.tap("Yes, let's start", "Where do you feel the pain?")
    await user.tap("Groin", "Where do you feel the pain?")

    # The step is committed but its reply hangs on the way out: kill the bot right there.
    standin.inject_delay("editMessageText", 30)
    mark = standin.mark()
    await standin.press_button_labelled(user.chat_id, "Done ✓")
    await standin.wait_for(
        lambda: rows(bot.db, "SELECT state FROM conversations") == [("radiates_to",)],
        timeout=WAIT,
        what="the step committed",
    )
    await asyncio.sleep(0.3)  # the edit is now hanging in the stand-in
    await bot.kill()
    standin.clear_faults()
    assert rows(bot.db, "SELECT state FROM conversations") == [("radiates_to",)]

    # While it is down, the user types the next answer.
    await standin.push_text(user.chat_id, "nowhere, it stays put")
    mark = standin.mark()
    await bot.start()
    await standin.wait_for_message(user.chat_id, "How does sitting affect it?", timeout=WAIT, since=mark)
    await standin.wait_for_updates_confirmed(timeout=WAIT)
    await asyncio.sleep(0.5)
    spread_questions = [
        c for c in standin.calls() if c.seq > mark and "Does the pain spread" in str(c.params.get("text", ""))
    ]
    sitting_questions = [
        c
        for c in standin.calls()
        if c.seq > mark and "How does sitting affect it?" in str(c.params.get("text", ""))
    ]
    assert len(spread_questions) == 1  # the reply lost in the kill, sent once after the restart
    assert len(sitting_questions) == 1  # the answer typed while down, handled once
    for label, expect in TYPICAL_TAPS[4:]:
        await user.tap(label, expect)
    await standin.wait_for_message(user.chat_id, "Your routine:", timeout=WAIT)
    await standin.wait_for(
        lambda: rows(bot.db, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL") == [(0,)],
        timeout=WAIT,
        what="the outbox drained",
    )
    assert rows(bot.db, "SELECT status FROM checks") == [("completed",)]
    assert rows(bot.db, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL") == [(0,)]
    with sqlite3.connect(bot.db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    await bot.stop()


async def test_mydata_sends_a_json_file_and_forget_deletes_everything(standin, bot):
    user = TelegramUser(standin)
    await complete_typical_check(user)
    mark = standin.mark()
    await standin.push_command(user.chat_id, "/mydata")
    await standin.wait_for_call("sendDocument", since=mark, timeout=WAIT)
    exported = json.loads(standin.documents(user.chat_id)[-1].data)
    assert exported["assessments"][0]["urgency"] == "SELF_CARE"
    assert {a["key"] for a in exported["answers"]} >= {"pain_location", "pain_now", "age"}

    await user.command("/forget", "cannot be undone")
    await user.tap("Yes, delete everything", "has been deleted")
    for table in (
        "users",
        "checks",
        "answers",
        "assessments",
        "conversations",
        "inbox",
        "outbox",
        "transport_state",
    ):
        assert rows(bot.db, f"SELECT COUNT(*) FROM {table}") == [(0,)], table


async def test_webhook_mode_refuses_a_wrong_secret_and_handles_the_right_one(standin, tmp_path):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/telegram-hook"
    bot = BotProcess(
        standin,
        tmp_path,
        "--webhook",
        url,
        "--listen",
        "127.0.0.1",
        "--port",
        str(port),
        TELEGRAM_WEBHOOK_SECRET="s3cret-token_1",
    )
    await bot.start(wait_until_polling=False)
    await standin.wait_for(lambda: standin.webhook.get("url") == url, timeout=WAIT, what="setWebhook")
    update = {
        "update_id": 900,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": 777, "type": "private", "first_name": "A"},
            "from": {"id": 777, "is_bot": False, "first_name": "A"},
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }
    standin.add_user(777)
    assert await standin.deliver_to_webhook(url, update, secret_token="wrong") == 403
    assert await standin.deliver_to_webhook(url, update) == 403
    assert rows(bot.db, "SELECT COUNT(*) FROM users") == [(0,)]
    assert await standin.deliver_to_webhook(url, update, secret_token="s3cret-token_1") == 200
    await standin.wait_for_message(777, "Shall we start?", timeout=WAIT)
    # Telegram redelivers after a timeout: the same update is applied once.
    assert await standin.deliver_to_webhook(url, update, secret_token="s3cret-token_1") == 200
    assert rows(bot.db, "SELECT step FROM conversations") == [(1,)]
    await bot.stop()


async def test_a_restart_forgets_month_old_update_ids_and_sent_replies_but_not_the_conversation(
    standin, tmp_path
):
    user = TelegramUser(standin)
    bot = await BotProcess(standin, tmp_path).start()
    await user.command("/start", "Shall we start?")
    await user.tap("Yes, let's start", "Where do you feel the pain?")
    await standin.wait_for(
        lambda: rows(bot.db, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL") == [(0,)],
        timeout=WAIT,
        what="the outbox drained",
    )
    assert await bot.stop() == 0
    month_ago = (datetime.now(UTC) - timedelta(days=30)).isoformat(timespec="milliseconds")
    with sqlite3.connect(bot.db) as connection:
        connection.execute("UPDATE inbox SET received_at = ?", (month_ago,))
        connection.execute("UPDATE outbox SET created_at = ?", (month_ago,))
    assert rows(bot.db, "SELECT COUNT(*) FROM inbox")[0][0] >= 2

    await bot.start()
    await standin.wait_for(
        lambda: rows(bot.db, "SELECT (SELECT COUNT(*) FROM inbox) + (SELECT COUNT(*) FROM outbox)") == [(0,)],
        timeout=WAIT,
        what="the old update ids and sent replies pruned",
    )
    assert rows(bot.db, "SELECT state FROM conversations") == [("pain_location",)]
    await user.tap("Groin", "Where do you feel the pain?")  # the conversation carries on
    await user.tap("Done ✓", "Does the pain spread")
    assert await bot.stop() == 0
