"""The sending floors for figure 3's capacity: a library alone, sending.

  python -m bench.send_floor --base-url URL --first-chat N --count K [--concurrency C]
                             [--http httpx|aiohttp|aiogram]

K sendMessage calls, one per chat, each a reminder-card-sized HTML text with
psoasbot's five reminder buttons, C at a time (psoasbot's scheduler sends 64
chats at once over a pool of 64 connections; so does this), no rate limiter, no
database, no logic. --http picks the library: python-telegram-bot on its default
HTTPXRequest (the PTB floor), python-telegram-bot on psoasbot's AiohttpRequest (the
same-transport floor), or aiogram 3 (a peer; needs the bench extra). Whatever rate
one reaches is the most a bot built that way could send from one process on this
machine; psoasbot's capacity is reported beside each. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.ext import ExtBot
from telegram.request import BaseRequest, HTTPXRequest

from bench.common import cpu_seconds
from bench.harness import TOKEN
from bot.adapters.telegram.aiohttp_request import AiohttpRequest

CARD = (
    "<b>Your routine: Desk-sitter routine</b>\n\n"
    "⏰ Time for your routine, about 12 minutes. Tap Done when you have finished.\n\n"
    + "\n".join(
        f"{n}. An exercise with a name of some length — hold 30 s, 3 times, each side" for n in range(1, 5)
    )
    + "\n\nSafety notes:\n"
    + "\n".join(f"• A safety note of the usual length, a sentence or so, number {n}." for n in range(1, 6))
    + "\n\nNeed the how-to? Tap “Show the steps”."
)


def keyboard(n: int) -> InlineKeyboardMarkup:
    labels = (("✓ Done", "d"), ("⏰ Snooze 30 min", "z"), ("Skip today", "s"), ("It hurt", "h"))
    rows = [
        [InlineKeyboardButton(label, callback_data=f"r:{n}:{code}") for label, code in labels[:2]],
        [InlineKeyboardButton(label, callback_data=f"r:{n}:{code}") for label, code in labels[2:]],
        [InlineKeyboardButton("📖 Show the steps", callback_data=f"r:{n}:v")],
    ]
    return InlineKeyboardMarkup(rows)


async def timed(send: Callable[[int], Awaitable[None]], first_chat: int, count: int) -> tuple[float, float]:
    """(seconds, CPU seconds) for count - 1 sends, after one that warms the connection pool."""
    await send(first_chat)
    cpu0, started = cpu_seconds(), time.monotonic()
    await asyncio.gather(*(send(first_chat + n) for n in range(1, count)))
    return time.monotonic() - started, cpu_seconds() - cpu0


async def with_ptb(
    request: BaseRequest, base_url: str, first_chat: int, count: int, concurrency: int
) -> tuple[float, float]:
    bot: ExtBot[None] = ExtBot(TOKEN, base_url=base_url, request=request)
    async with bot:
        gate = asyncio.Semaphore(concurrency)

        async def send(chat_id: int) -> None:
            async with gate:
                await bot.send_message(
                    chat_id, CARD, parse_mode=ParseMode.HTML, reply_markup=keyboard(chat_id)
                )

        return await timed(send, first_chat, count)


async def with_aiogram(base_url: str, first_chat: int, count: int, concurrency: int) -> tuple[float, float]:
    from aiogram import Bot
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.types import InlineKeyboardButton as Button
    from aiogram.types import InlineKeyboardMarkup as Markup

    from bench.aiogram_floor import POOL, api_server

    session = AiohttpSession(api=api_server(base_url), limit=POOL)
    bot = Bot(TOKEN, session=session)
    gate = asyncio.Semaphore(concurrency)

    async def send(chat_id: int) -> None:
        rows = [
            [Button(text=b.text, callback_data=b.callback_data) for b in row]
            for row in keyboard(chat_id).inline_keyboard
        ]
        async with gate:
            await bot.send_message(
                chat_id, CARD, parse_mode="HTML", reply_markup=Markup(inline_keyboard=rows)
            )

    try:
        return await timed(send, first_chat, count)
    finally:
        await session.close()


async def run(
    base_url: str, first_chat: int, count: int, concurrency: int, http: str = "httpx"
) -> dict[str, float]:
    settings = {"connection_pool_size": 64, "read_timeout": 15, "write_timeout": 15, "pool_timeout": 10}
    if http == "aiogram":
        elapsed, cpu = await with_aiogram(base_url, first_chat, count, concurrency)
    else:
        request = AiohttpRequest(**settings) if http == "aiohttp" else HTTPXRequest(**settings)
        elapsed, cpu = await with_ptb(request, base_url, first_chat, count, concurrency)
    sent = count - 1
    return {
        "messages": sent,
        "messages_per_s": sent / elapsed,
        "cpu_ms_per_message": cpu / sent * 1000,
        "cpu_utilisation": cpu / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.send_floor", description=__doc__)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--first-chat", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--http", choices=("httpx", "aiohttp", "aiogram"), default="httpx")
    args = parser.parse_args()
    result = asyncio.run(run(args.base_url, args.first_chat, args.count, args.concurrency, args.http))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
