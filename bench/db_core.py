"""Core steps per second on one backend, in a process of its own pinned to one CPU:
ConversationService.handle as the Telegram front calls it (inbox key + outbox context, so
each step records the update and writes its replies), one transaction per step.

  python -m bench.db_core --target PATH_OR_DSN [--seconds S] [--users K] [--stored N]

The target is an SQLite file path or a postgresql:// DSN (`open_storage` chooses). `stored`
people first walk one whole check each (so the tables are not empty), then `users` of them
walk the typical check again and again, side by side, for `seconds`. On PostgreSQL the
server runs in other processes on the other CPU; only this process's CPU is counted. It uses
only what the storage port offers, so the same file measures any version of the bot that has
`open_storage` (the README's before/after figures for SQLite). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

from bench.common import ROOT, cpu_seconds, pin_to_one_core

TAPS = (
    "Yes, let's start",
    "Front of the hip",
    "Done ✓",
    "None of these",
    "Worse sitting and getting up",
    "1 to 3 weeks",
    "3",
    "No",
    "No",
    "No",
    "30 to 49",
    "Woman",
    "Mostly sitting",
    "No",
    "Skip",
)
"""The typical check by buttons, after /check (the same taps as the Telegram tests)."""


def button_data(replies: Any, label: str) -> str:
    """The data of the button labelled `label` on the last message that has buttons."""
    for reply in reversed(replies or []):
        for button in reply.all_buttons:
            if button.label == label:
                return str(button.data)
    raise LookupError(f"no button {label!r}")


async def run(target: str, seconds: float, users: int, stored: int) -> dict[str, Any]:
    from bot.core.app import build_core
    from bot.core.events import NewCheck, Press
    from bot.core.service import ConversationService
    from bot.storage import open_storage

    core = build_core(ROOT / "content", ROOT / "flows", offer_reminders=True)
    storage = await open_storage(target)
    counter = 0
    steps = 0
    where: dict[str, tuple[int, Any]] = {}
    try:
        service = ConversationService(core.engine, storage)

        async def walk(external_id: str, until: float, most: int | None = None) -> None:
            nonlocal counter, steps
            position, replies = where.get(external_id, (-1, None))
            taken = 0
            while time.monotonic() < until and (most is None or taken < most):
                taken += 1
                event: Any = NewCheck() if position < 0 else Press(button_data(replies, TAPS[position]))
                counter += 1
                handled = await service.handle(
                    "telegram",
                    external_id,
                    event,
                    inbox_key=f"update:{counter}",
                    outbox_context={"pressed_message_id": 3},
                )
                replies = handled.replies
                steps += 1
                position = position + 1 if position + 1 < len(TAPS) else -1
            where[external_id] = (position, replies)

        everyone = [str(10_000_000 + n) for n in range(stored)]
        for start in range(0, stored, 50):  # one whole check each, 50 people at a time
            await asyncio.gather(
                *(walk(i, float("inf"), len(TAPS) + 1) for i in everyone[start : start + 50])
            )
        ids = everyone[:users]
        await asyncio.gather(*(walk(i, time.monotonic() + min(2.0, seconds / 4)) for i in ids))  # warm up
        steps = 0
        cpu0, t0 = cpu_seconds(), time.monotonic()
        await asyncio.gather(*(walk(i, t0 + seconds) for i in ids))
        elapsed, cpu = time.monotonic() - t0, cpu_seconds() - cpu0
    finally:
        await storage.close()
    return {
        "backend": "postgresql" if target.startswith("postgres") else "sqlite",
        "stored_users": stored,
        "concurrent_users": users,
        "steps": steps,
        "seconds": elapsed,
        "steps_per_s": steps / elapsed,
        "cpu_ms_per_step": cpu / steps * 1000 if steps else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--stored", type=int, default=500)
    args = parser.parse_args()
    cpu = pin_to_one_core()
    result = asyncio.run(run(args.target, args.seconds, args.users, args.stored))
    result["pinned_cpu"] = cpu
    print(json.dumps(result))


if __name__ == "__main__":
    main()
