"""Tests of the local Telegram stand-in, driven by python-telegram-bot's real ``Bot``.

Using PTB's own HTTP stack (form encoding, multipart uploads, error mapping) proves the
stand-in speaks the Bot API the way the bot will use it; every test asserts an observable
outcome that a broken stand-in would get wrong.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter

from tests.standin import TINY_PNG, ApiSpec, BotApiStandIn, StandInTimeout

API_SPEC = Path(__file__).resolve().parents[2] / "shared" / "telegram-bot-api" / "api.json"
HAS_SPEC = API_SPEC.is_file()
needs_spec = pytest.mark.skipif(
    not HAS_SPEC, reason=f"published Bot API spec not found at {API_SPEC} (no ../shared)"
)
TOKEN = "123:ABC"
USER = 42


@pytest.fixture
async def standin() -> AsyncIterator[BotApiStandIn]:
    async with BotApiStandIn(TOKEN, api_spec=API_SPEC if HAS_SPEC else None) as running:
        yield running


@pytest.fixture
async def bot(standin: BotApiStandIn) -> AsyncIterator[Bot]:
    telegram_bot = Bot(TOKEN, base_url=standin.base_url, base_file_url=standin.file_base_url)
    async with telegram_bot:
        yield telegram_bot


def keyboard(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in row] for row in rows]
    )


async def post_json(
    standin: BotApiStandIn, method: str, payload: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """A raw JSON call, for requests python-telegram-bot would never build."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{standin.base_url}{TOKEN}/{method}", json=payload) as response,
    ):
        return response.status, await response.json()


async def greet(standin: BotApiStandIn, bot: Bot, **kwargs: Any) -> int:
    """The user says hello and the bot answers; returns the bot message's id."""
    await standin.push_text(USER, "hello")
    sent = await bot.send_message(USER, "Hi!", **kwargs)
    return sent.message_id


# ------------------------------------------------------------------- identity


async def test_get_me_answers_the_bot_user_derived_from_the_token(bot: Bot) -> None:
    me = await bot.get_me()
    assert (me.id, me.is_bot, me.username) == (123, True, "psoas_test_bot")


async def test_wrong_token_is_unauthorized(standin: BotApiStandIn) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("999:WRONG", base_url=standin.base_url):
            pass  # initialising calls getMe, which must fail
    assert standin.calls()[-1].status == 401


async def test_unknown_method_answers_404_in_telegram_shape(standin: BotApiStandIn) -> None:
    status, body = await post_json(standin, "sendTelepathy", {})
    assert status == 404
    assert body == {"ok": False, "error_code": 404, "description": "Not Found"}


async def test_plain_json_requests_are_accepted(standin: BotApiStandIn) -> None:
    standin.add_user(USER)
    payload = {"chat_id": USER, "text": "via JSON", "reply_markup": {"inline_keyboard": []}}
    status, body = await post_json(standin, "sendmessage", payload)  # names are case-insensitive
    assert (status, body["ok"], body["result"]["text"]) == (200, True, "via JSON")


# ------------------------------------------------------------------- messages


async def test_send_message_with_inline_keyboard_can_be_read_back(standin: BotApiStandIn, bot: Bot) -> None:
    await standin.push_command(USER, "/start")
    markup = keyboard([("Yes", "answer:yes"), ("No", "answer:no")], [("Help", "help")])
    sent = await bot.send_message(USER, "Does it hurt?", reply_markup=markup)

    shown = standin.last_message(USER)
    assert shown is not None
    assert (shown.message_id, shown.text) == (sent.message_id, "Does it hurt?")
    assert shown.buttons == [[("Yes", "answer:yes"), ("No", "answer:no")], [("Help", "help")]]
    assert sent.reply_markup == markup
    assert sent.from_user is not None and sent.from_user.id == 123


async def test_edit_message_text_changes_the_message_in_place(standin: BotApiStandIn, bot: Bot) -> None:
    message_id = await greet(standin, bot, reply_markup=keyboard([("Go", "go")]))
    edited = await bot.edit_message_text(
        "Thanks!", chat_id=USER, message_id=message_id, reply_markup=keyboard([("Next", "next")])
    )
    assert isinstance(edited, Message) and edited.text == "Thanks!"

    [only] = standin.messages(USER)
    assert (only.message_id, only.text, only.edit_count) == (message_id, "Thanks!", 1)
    assert only.buttons == [[("Next", "next")]]


async def test_editing_text_without_reply_markup_removes_the_keyboard(
    standin: BotApiStandIn, bot: Bot
) -> None:
    message_id = await greet(standin, bot, reply_markup=keyboard([("Go", "go")]))
    await bot.edit_message_text("Done.", chat_id=USER, message_id=message_id)
    assert standin.messages(USER)[0].buttons == []


async def test_identical_edit_is_not_modified(standin: BotApiStandIn, bot: Bot) -> None:
    message_id = await greet(standin, bot)
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("Hi!", chat_id=USER, message_id=message_id)


async def test_editing_a_missing_message_is_rejected(standin: BotApiStandIn, bot: Bot) -> None:
    await greet(standin, bot)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=USER, message_id=999)


async def test_sending_to_an_unknown_chat_is_chat_not_found(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(777, "anyone there?")


async def test_text_over_4096_characters_is_rejected(standin: BotApiStandIn, bot: Bot) -> None:
    standin.add_user(USER)
    await bot.send_message(USER, "a" * 4096)
    with pytest.raises(BadRequest) as rejected:
        await bot.send_message(USER, "a" * 4097)
    assert rejected.value.message.lower() == "message is too long"
    assert len(standin.messages(USER)) == 1


async def test_length_is_measured_on_the_text_without_html_tags(standin: BotApiStandIn, bot: Bot) -> None:
    standin.add_user(USER)
    sent = await bot.send_message(USER, "<b>" + "&lt;" * 4096 + "</b>", parse_mode="HTML")
    assert sent.text == "<" * 4096
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [("bold", 0, 4096)]


async def test_empty_text_is_rejected(standin: BotApiStandIn, bot: Bot) -> None:
    standin.add_user(USER)
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(USER, "<b> </b>", parse_mode="HTML")


async def test_malformed_html_is_rejected(standin: BotApiStandIn, bot: Bot) -> None:
    standin.add_user(USER)
    with pytest.raises(BadRequest) as mismatched:
        await bot.send_message(USER, "<b>bold</i>", parse_mode="HTML")
    assert mismatched.value.message.lower().startswith("can't parse entities: unmatched end tag")
    with pytest.raises(BadRequest, match=r'(?i)unsupported start tag "p"'):
        await bot.send_message(USER, "<p>paragraph</p>", parse_mode="HTML")
    assert standin.messages(USER) == []


async def test_markdown_v2_requires_escaping_reserved_characters(standin: BotApiStandIn, bot: Bot) -> None:
    standin.add_user(USER)
    with pytest.raises(BadRequest, match=r"(?i)character '\.' is reserved"):
        await bot.send_message(USER, "Rest for 2 days.", parse_mode="MarkdownV2")
    sent = await bot.send_message(USER, "*Rest* for 2 days\\.", parse_mode="MarkdownV2")
    assert sent.text == "Rest for 2 days."


# -------------------------------------------------------------------- buttons


async def test_callback_data_over_64_bytes_is_rejected(standin: BotApiStandIn, bot: Bot) -> None:
    standin.add_user(USER)
    await bot.send_message(USER, "ok", reply_markup=keyboard([("b", "x" * 64)]))
    for too_long in ("x" * 65, "é" * 33):  # 33 characters but 66 bytes of UTF-8
        with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
            await bot.send_message(USER, "no", reply_markup=keyboard([("b", too_long)]))
    assert [m.text for m in standin.messages(USER)] == ["ok"]


async def test_button_without_action_is_rejected(standin: BotApiStandIn) -> None:
    standin.add_user(USER)
    text_only = {"inline_keyboard": [[{"text": "Only text"}]]}
    payload = {"chat_id": USER, "text": "x", "reply_markup": text_only}
    status, body = await post_json(standin, "sendMessage", payload)
    assert status == 400
    assert body["description"] == (
        "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
    )


async def test_button_press_is_answered_once(standin: BotApiStandIn, bot: Bot) -> None:
    message_id = await greet(standin, bot, reply_markup=keyboard([("Go", "go")]))
    query_id = await standin.press_button(USER, message_id, "go")

    with pytest.raises(BadRequest, match=r"(?i)message_too_long"):
        await bot.answer_callback_query(query_id, text="x" * 201)
    assert await bot.answer_callback_query(query_id, text="Noted")
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query_id)

    [answer] = standin.answered_callbacks()
    assert (answer.callback_query_id, answer.text) == (query_id, "Noted")
    assert standin.unanswered_callbacks() == []


async def test_pressing_a_button_the_message_does_not_show_is_a_test_error(
    standin: BotApiStandIn, bot: Bot
) -> None:
    message_id = await greet(standin, bot, reply_markup=keyboard([("Go", "go")]))
    with pytest.raises(ValueError, match="offers no button"):
        await standin.press_button(USER, message_id, "stop")


# -------------------------------------------------------------------- updates


async def test_get_updates_returns_text_then_button_press_and_respects_offset(
    standin: BotApiStandIn, bot: Bot
) -> None:
    message_id = await greet(standin, bot, reply_markup=keyboard([("Go", "go")]))
    await standin.push_text(USER, "my back hurts")
    await standin.press_button(USER, message_id, "go")

    first = await bot.get_updates(timeout=0)
    assert [u.message.text if u.message else None for u in first] == [
        "hello",
        "my back hurts",
        None,
    ]
    assert first[2].callback_query is not None and first[2].callback_query.data == "go"
    assert [u.update_id for u in first] == sorted(u.update_id for u in first)

    again = await bot.get_updates(offset=first[1].update_id, timeout=0)
    assert [u.update_id for u in again] == [first[1].update_id, first[2].update_id]
    assert await bot.get_updates(offset=first[2].update_id + 1, timeout=0) == ()
    assert standin.pending_updates() == []


async def test_get_updates_honours_limit(standin: BotApiStandIn, bot: Bot) -> None:
    for text in ("one", "two", "three"):
        await standin.push_text(USER, text)
    batch = await bot.get_updates(limit=2, timeout=0)
    assert [u.message.text for u in batch if u.message] == ["one", "two"]


async def test_long_poll_returns_as_soon_as_an_update_arrives(standin: BotApiStandIn, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await standin.wait_for(lambda: standin.polling, what="a waiting getUpdates")
    started = time.monotonic()
    await standin.push_text(USER, "are you there?")
    updates = await asyncio.wait_for(poll, timeout=5)
    assert time.monotonic() - started < 2
    assert [u.message.text for u in updates if u.message] == ["are you there?"]


async def test_long_poll_without_updates_waits_for_the_timeout(bot: Bot) -> None:
    started = time.monotonic()
    assert await bot.get_updates(timeout=1) == ()
    assert time.monotonic() - started >= 0.9


async def test_get_updates_conflicts_while_a_webhook_is_set(bot: Bot) -> None:
    assert await bot.set_webhook("https://example.org/hook", secret_token="s3cret")
    with pytest.raises(Conflict, match="webhook is active"):
        await bot.get_updates(timeout=0)
    assert await bot.delete_webhook()
    assert await bot.get_updates(timeout=0) == ()


async def test_a_second_poller_ends_the_first_with_conflict(standin: BotApiStandIn, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=10))
    await standin.wait_for(lambda: standin.polling, what="the first poll waiting")
    async with Bot(TOKEN, base_url=standin.base_url) as second_instance:
        second = asyncio.create_task(second_instance.get_updates(timeout=0))
        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await asyncio.wait_for(first, timeout=5)
        assert await second == ()


async def test_generated_updates_follow_the_spec_and_parse_in_ptb(standin: BotApiStandIn, bot: Bot) -> None:
    message_id = await greet(standin, bot, reply_markup=keyboard([("Go", "go")]))
    await standin.push_command(USER, "/start payload")
    await standin.press_button(USER, message_id, "go")
    await standin.push_sticker(USER)
    await standin.push_photo(USER, caption="my posture")
    await standin.push_edited_message(USER, 1, "hello again")
    await standin.push_my_chat_member(USER, "member", "kicked")
    await standin.push_group_text(-100, "hi group")

    raw = standin.pending_updates()
    spec = ApiSpec.load(API_SPEC)
    for update in raw:
        if spec is not None:
            assert spec.check_object("Update", update) is None, update
        assert Update.de_json(update, bot) is not None
    kinds = [next(k for k in u if k != "update_id") for u in raw]
    assert kinds == ["message", "message", "callback_query", "message", "message",
                     "edited_message", "my_chat_member", "message"]  # fmt: skip
    assert raw[1]["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert raw[-1]["message"]["chat"]["type"] == "group"


# ---------------------------------------------------------------------- files


async def test_send_document_stores_the_bytes(standin: BotApiStandIn, bot: Bot) -> None:
    standin.add_user(USER)
    content = b"%PDF-1.4\n" + bytes(range(256)) * 4
    sent = await bot.send_document(USER, content, filename="plan.pdf", caption="Your plan")

    [stored] = standin.documents(USER)
    assert stored.data == content
    assert (stored.file_name, stored.mime_type, stored.caption) == (
        "plan.pdf",
        "application/pdf",
        "Your plan",
    )
    assert sent.document is not None and sent.document.file_size == len(content)
    assert sent.document.file_id == stored.file_id


async def test_send_photo_requires_an_image_and_reports_its_size(standin: BotApiStandIn, bot: Bot) -> None:
    standin.add_user(USER)
    sent = await bot.send_photo(USER, TINY_PNG, caption="stretch")
    assert [(p.width, p.height) for p in sent.photo] == [(1, 1)]
    assert standin.photos(USER)[0].data == TINY_PNG
    with pytest.raises(BadRequest, match=r"(?i)image_process_failed"):
        await bot.send_photo(USER, b"not an image")


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims this size (the stand-in reads the size from the header alone)."""
    return TINY_PNG[:16] + width.to_bytes(4, "big") + height.to_bytes(4, "big") + TINY_PNG[24:]


async def test_send_photo_keeps_telegrams_documented_limits(standin: BotApiStandIn, bot: Bot) -> None:
    standin.add_user(USER)
    sent = await bot.send_photo(USER, png_header(1200, 600))
    with pytest.raises(BadRequest, match=r"(?i)photo_invalid_dimensions"):
        await bot.send_photo(USER, png_header(2100, 100))  # a ratio above 20
    with pytest.raises(BadRequest, match=r"(?i)photo_invalid_dimensions"):
        await bot.send_photo(USER, png_header(6000, 4500))  # width + height above 10000
    with pytest.raises(BadRequest, match=r"(?i)photo_save_file_invalid"):
        await bot.send_photo(USER, png_header(800, 600) + b"\0" * (10 * 1024 * 1024))  # above 10 MB
    again = await bot.send_photo(USER, sent.photo[-1].file_id)  # by file_id: no upload, same file
    assert again.photo[-1].file_id == sent.photo[-1].file_id
    assert len(standin.photos(USER)) == 2


async def test_user_photo_can_be_downloaded_by_the_bot(standin: BotApiStandIn, bot: Bot) -> None:
    await standin.push_photo(USER)
    [update] = await bot.get_updates(timeout=0)
    assert update.message is not None
    photo_file = await update.message.photo[-1].get_file()
    assert bytes(await photo_file.download_as_bytearray()) == TINY_PNG


# ------------------------------------------------------------------- commands


async def test_set_my_commands_validates_and_stores(standin: BotApiStandIn, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await bot.set_my_commands([BotCommand("CheckIn", "Daily check-in")])
    assert await bot.set_my_commands([BotCommand("checkin", "Daily check-in")])
    assert [(c.command, c.description) for c in await bot.get_my_commands()] == [
        ("checkin", "Daily check-in")
    ]
    assert await bot.delete_my_commands()
    assert standin.commands() == []


# --------------------------------------------------------------------- the spec


@needs_spec
async def test_unknown_field_is_rejected_when_the_spec_is_present(standin: BotApiStandIn, bot: Bot) -> None:
    standin.add_user(USER)
    with pytest.raises(BadRequest, match=r'(?i)unknown parameter "colour"'):
        await bot.send_message(USER, "hi", api_kwargs={"colour": "red"})
    status, body = await post_json(standin, "sendMessage", {"chat_id": USER})
    assert (status, body["description"]) == (400, "Bad Request: message text is empty")
    assert standin.messages(USER) == []


async def test_without_the_spec_unknown_fields_pass() -> None:
    async with BotApiStandIn(TOKEN, api_spec=None) as lenient:
        lenient.add_user(USER)
        async with Bot(TOKEN, base_url=lenient.base_url) as lenient_bot:
            await lenient_bot.send_message(USER, "hi", api_kwargs={"colour": "red"})
        assert lenient.calls("sendMessage")[0].params["colour"] == "red"


# --------------------------------------------------------------------- faults


async def test_injected_403_raises_forbidden_once(standin: BotApiStandIn, bot: Bot) -> None:
    standin.add_user(USER)
    injection = standin.inject("sendMessage", 403)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(USER, "first")
    await bot.send_message(USER, "second")
    assert injection.hits == 1
    assert [m.text for m in standin.messages(USER)] == ["second"]


async def test_injected_429_raises_retry_after(
    standin: BotApiStandIn, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    standin.add_user(USER)
    injection = standin.inject("sendMessage", 429, retry_after=7)
    with pytest.raises(RetryAfter) as flood:
        await bot.send_message(USER, "too fast")
    assert flood.value.retry_after == dtm.timedelta(seconds=7)
    [attempt] = standin.calls("sendMessage")
    assert attempt.status == 429 and injection.hits == 1
    assert abs(injection.hit_times[0] - attempt.time) < 0.5  # the attempt's time is recorded


async def test_injected_server_errors_raise_network_errors(standin: BotApiStandIn, bot: Bot) -> None:
    standin.add_user(USER)
    standin.inject("sendMessage", 502, times=2)
    for _ in range(2):
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(USER, "hello?")
    await bot.send_message(USER, "hello!")
    assert [c.status for c in standin.calls("sendMessage")] == [502, 502, 200]


async def test_injected_delay_holds_the_answer(standin: BotApiStandIn, bot: Bot) -> None:
    standin.add_user(USER)
    standin.inject_delay("sendMessage", 0.3)
    started = time.monotonic()
    await bot.send_message(USER, "slow")
    assert time.monotonic() - started >= 0.3


async def test_blocked_chat_answers_403_until_unblocked(standin: BotApiStandIn, bot: Bot) -> None:
    standin.add_user(USER)
    standin.block(USER)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(USER, "reminder")
    standin.unblock(USER)
    await bot.send_message(USER, "reminder")
    assert [c.status for c in standin.calls("sendMessage")] == [403, 200]


async def test_user_blocking_the_bot_via_my_chat_member_blocks_sends(
    standin: BotApiStandIn, bot: Bot
) -> None:
    await standin.push_my_chat_member(USER, "member", "kicked")
    with pytest.raises(Forbidden):
        await bot.send_chat_action(USER, "typing")
    await standin.push_my_chat_member(USER, "kicked", "member")
    assert await bot.send_chat_action(USER, "typing")


# ------------------------------------------------------------------ waiting


async def test_wait_for_message_returns_when_the_bot_answers(standin: BotApiStandIn, bot: Bot) -> None:
    standin.add_user(USER)
    mark = standin.mark()
    assert standin.last_message(USER) is None
    # The send only runs once the test awaits, so the wait must notice it arriving.
    sending = asyncio.create_task(bot.send_message(USER, "Your pain score is noted."))
    shown = await standin.wait_for_message(USER, "pain score", timeout=3, since=mark)
    await sending
    assert shown.text == "Your pain score is noted."


async def test_wait_for_message_times_out_with_the_recent_calls(standin: BotApiStandIn, bot: Bot) -> None:
    standin.add_user(USER)
    await bot.send_message(USER, "something else")
    with pytest.raises(StandInTimeout, match="something else"):
        await standin.wait_for_message(USER, "never sent", timeout=0.2)


# ------------------------------------------------------------------ webhook


async def test_deliver_to_webhook_posts_the_update_with_the_secret(
    standin: BotApiStandIn,
) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json()))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
        update = {"update_id": 5, "message": {"message_id": 1, "text": "hi"}}
        assert await standin.deliver_to_webhook(url, update, secret_token="s3cret") == 200
    finally:
        await runner.cleanup()
    assert received == [("s3cret", update)]
