"""The floor: python-telegram-bot with no logic, making the calls psoasbot makes.

A button press gets answerCallbackQuery + editMessageText of the pressed message
(the next "question", with buttons); a text gets one sendMessage. It is built
like psoasbot's application (same ApplicationBuilder settings, the same kind of
polling loop that confirms a batch only after it is handled), so the difference
in CPU per update between the two is psoasbot's own work: the core, SQLite, the
inbox/outbox and the per-chat ordering.

  BENCH_HTTP=httpx|aiohttp   python-telegram-bot's request class: its default (httpx, the
                             "PTB floor") or psoasbot's AiohttpRequest (the same-transport floor)
  BENCH_PROFILE=path         write a cProfile of the whole run to path
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import os
import signal
import sys

from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.adapters.telegram.aiohttp_request import use_http_client

QUESTION = (
    "Question {n}. This stands in for one of psoasbot's questions: a sentence or two of text, "
    "about as long as the real ones, with a few buttons under it to answer with."
)
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]


def keyboard(n: int) -> InlineKeyboardMarkup:
    rows = [[InlineKeyboardButton(f"Option {i}", callback_data=f"{n}:o{i}")] for i in range(4)]
    rows.append([InlineKeyboardButton("Back", callback_data=f"{n}:back")])
    return InlineKeyboardMarkup(rows)


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_chat is not None
    await context.bot.send_message(
        update.effective_chat.id, QUESTION.format(n=update.update_id), reply_markup=keyboard(update.update_id)
    )


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and update.effective_chat is not None and query.message is not None
    await context.bot.answer_callback_query(query.id)
    await context.bot.edit_message_text(
        QUESTION.format(n=update.update_id),
        update.effective_chat.id,
        query.message.message_id,
        reply_markup=keyboard(update.update_id),
    )


def build() -> Application:  # type: ignore[type-arg]
    builder = (
        ApplicationBuilder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(os.environ["TELEGRAM_BASE_URL"])
        .updater(None)
        .concurrent_updates(256)
    )
    client = os.environ.get("BENCH_HTTP", "httpx")
    # The same pool size and timeouts as bot/adapters/telegram/runner.py, on the chosen class.
    application = use_http_client(
        builder,
        "aiohttp" if client == "aiohttp" else "httpx",
        connection_pool_size=64,
        connect_timeout=10,
        read_timeout=15,
        write_timeout=15,
        pool_timeout=10,
    ).build()
    application.add_handler(CallbackQueryHandler(on_button))
    application.add_handler(MessageHandler(filters.TEXT, on_text))
    return application


async def run() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    application = build()
    timeout = int(os.environ.get("PSOASBOT_POLL_TIMEOUT", "10"))
    async with application:
        await application.bot.set_my_commands([BotCommand("start", "start")])
        await application.bot.delete_webhook()
        offset: int | None = None
        while not stop.is_set():
            fetch = asyncio.ensure_future(
                application.bot.get_updates(
                    offset=offset, timeout=timeout, allowed_updates=ALLOWED_UPDATES, read_timeout=timeout + 10
                )
            )
            stopping = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if fetch not in done:
                fetch.cancel()
                with contextlib.suppress(BaseException):
                    await fetch
                break
            stopping.cancel()
            updates = fetch.result()
            if not updates:
                continue
            await asyncio.gather(
                *(
                    application.update_processor.process_update(update, application.process_update(update))
                    for update in updates
                )
            )
            offset = updates[-1].update_id + 1


def main() -> int:
    profile_path = os.environ.get("BENCH_PROFILE")
    if not profile_path:
        asyncio.run(run())
        return 0
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        asyncio.run(run())
    finally:
        profiler.disable()
        profiler.dump_stats(profile_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
