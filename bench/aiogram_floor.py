"""A peer floor: aiogram with no logic, making the calls bench/floor_bot.py makes.

A button press gets answerCallbackQuery + editMessageText of the pressed message, a text gets
one sendMessage, with the same texts and keyboards as the python-telegram-bot floor. Updates
are fetched by the same kind of loop (the next getUpdates, which confirms a batch, only once
the whole batch is handled, its updates side by side), so the two floors differ only in the
library: aiogram 3 on its own aiohttp session, against python-telegram-bot. Needs the bench
extra (`pip install -e '.[bench]'`, which `make bench` does).

  BENCH_PROFILE=path         write a cProfile of the whole run to path
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import os
import signal
import sys
from typing import Any

from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import (
    BotCommand,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)

from bench.floor_bot import ALLOWED_UPDATES, QUESTION

POOL = 64
"""Connections for Bot API calls: python-telegram-bot's pool size in psoasbot and its floor."""


def keyboard(n: int) -> InlineKeyboardMarkup:
    rows = [[InlineKeyboardButton(text=f"Option {i}", callback_data=f"{n}:o{i}")] for i in range(4)]
    rows.append([InlineKeyboardButton(text="Back", callback_data=f"{n}:back")])
    return InlineKeyboardMarkup(inline_keyboard=rows)


router = Router()


@router.message(F.text)
async def on_text(message: Message, bot: Bot, event_update: Update) -> None:
    n = event_update.update_id
    await bot.send_message(message.chat.id, QUESTION.format(n=n), reply_markup=keyboard(n))


@router.callback_query()
async def on_button(query: CallbackQuery, bot: Bot, event_update: Update) -> None:
    n = event_update.update_id
    assert query.message is not None
    await bot.answer_callback_query(query.id)
    await bot.edit_message_text(
        text=QUESTION.format(n=n),
        chat_id=query.message.chat.id,
        message_id=query.message.message_id,
        reply_markup=keyboard(n),
    )


def api_server(base_url: str) -> TelegramAPIServer:
    """TELEGRAM_BASE_URL is python-telegram-bot's form, up to and including `/bot`."""
    root = base_url.removesuffix("/bot")
    return TelegramAPIServer(
        base=f"{root}/bot{{token}}/{{method}}", file=f"{root}/file/bot{{token}}/{{path}}"
    )


async def run() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    session = AiohttpSession(api=api_server(os.environ["TELEGRAM_BASE_URL"]), limit=POOL)
    bot = Bot(os.environ["TELEGRAM_BOT_TOKEN"], session=session)
    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    timeout = int(os.environ.get("PSOASBOT_POLL_TIMEOUT", "10"))
    try:
        await bot.set_my_commands([BotCommand(command="start", description="start")])
        await bot.delete_webhook()
        offset: int | None = None
        while not stop.is_set():
            fetch: asyncio.Future[Any] = asyncio.ensure_future(
                bot.get_updates(
                    offset=offset,
                    timeout=timeout,
                    allowed_updates=ALLOWED_UPDATES,
                    request_timeout=timeout + 10,
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
            await asyncio.gather(*(dispatcher.feed_update(bot, update) for update in updates))
            offset = updates[-1].update_id + 1
    finally:
        await session.close()


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
