"""The sending floor for figure 3's capacity: python-telegram-bot alone, sending.

  python -m bench.send_floor --base-url URL --first-chat N --count K [--concurrency C]

K sendMessage calls, one per chat, each a reminder-card-sized HTML text with
psoasbot's five reminder buttons, C at a time (psoasbot's scheduler sends 64
chats at once over a pool of 64 connections; so does this), no rate limiter, no
database, no logic. Whatever rate this reaches is the most any bot built on
python-telegram-bot could send from one process on this machine; psoasbot's
capacity is reported as a share of it. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from bench.common import cpu_seconds
from bench.harness import TOKEN

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


async def run(base_url: str, first_chat: int, count: int, concurrency: int) -> dict[str, float]:
    request = HTTPXRequest(connection_pool_size=64, read_timeout=15, write_timeout=15, pool_timeout=10)
    bot: ExtBot[None] = ExtBot(TOKEN, base_url=base_url, request=request)
    async with bot:
        gate = asyncio.Semaphore(concurrency)

        async def send(chat_id: int) -> None:
            async with gate:
                await bot.send_message(
                    chat_id, CARD, parse_mode=ParseMode.HTML, reply_markup=keyboard(chat_id)
                )

        await send(first_chat)  # warm the connection pool
        cpu0, started = cpu_seconds(), time.monotonic()
        await asyncio.gather(*(send(first_chat + n) for n in range(1, count)))
        elapsed, cpu = time.monotonic() - started, cpu_seconds() - cpu0
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
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.base_url, args.first_chat, args.count, args.concurrency))))


if __name__ == "__main__":
    main()
