"""Figure 3: reminders through the real bot process and the stand-in.

The bot starts on a copy of the seeded database (nothing due). Once it is long
polling, this process makes a number of seeded users' session reminders due *now*
(one UPDATE, with the bot running, as a clock reaching 07:30 would), and the bot's
own scheduler finds, claims and sends them. Every sendMessage the stand-in
receives is timed on arrival.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import ROOT, cpu_seconds
from bench.harness import BotUnderTest, MeasuredStandIn
from bench.seed import SEED_CHAT_BASE, copy_database, iso

TELEGRAM_BROADCAST_LIMIT = 30.0


def make_due_now(db: Path, count: int) -> tuple[datetime, list[int]]:
    """Session reminders of the first `count` seeded users fall due at this very second
    (daily at this wall time, so the next one is a day away). Done while the bot runs."""
    due = datetime.now(UTC).replace(microsecond=0)
    connection = sqlite3.connect(db, timeout=30, isolation_level=None)
    connection.execute("PRAGMA busy_timeout = 30000")
    connection.execute("BEGIN IMMEDIATE")
    connection.execute(
        "UPDATE reminders SET due_at = ?, local_time = ?, timezone = 'UTC', "
        'days = \'["mon", "tue", "wed", "thu", "fri", "sat", "sun"]\' '
        "WHERE kind = 'session' AND user_id <= ?",
        (iso(due), due.strftime("%H:%M"), count),
    )
    connection.execute("COMMIT")
    connection.close()
    return due, [SEED_CHAT_BASE + i for i in range(1, count + 1)]


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """The most events in any sliding window of `window` seconds."""
    ordered = sorted(times)
    best = start = 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def deliver_due(
    standin: MeasuredStandIn,
    bot: BotUnderTest,
    count: int,
    *,
    timeout: float,
    quiet: float = 3.0,
) -> dict[str, Any]:
    """Make `count` reminders due, wait until each chat has its reminder and the bot has been
    quiet for `quiet` seconds (or `timeout` passed), and measure what was sent."""
    chats = {SEED_CHAT_BASE + i for i in range(1, count + 1)}
    for chat_id in chats:
        standin.standin.add_user(chat_id)
    standin.forget_history()
    arrivals: list[tuple[float, float, int, int]] = []  # monotonic, wall, chat, status
    reached: set[int] = set()

    def listener(call: Any) -> None:
        if call.method == "sendMessage":
            chat = int(call.params.get("chat_id"))
            arrivals.append((call.time, call.wall_time, chat, call.status))
            if call.status == 200:
                reached.add(chat)

    for chat_id in chats:
        standin.listeners[chat_id] = listener
    cpu0, harness0 = bot.cpu(), cpu_seconds()
    due, _ = await asyncio.to_thread(make_due_now, bot.db, count)
    made_due = time.monotonic()
    deadline = made_due + timeout
    while time.monotonic() < deadline:
        last = arrivals[-1][0] if arrivals else made_due
        if len(reached) >= len(chats) and time.monotonic() - last >= quiet:
            break
        await asyncio.sleep(0.2)
    cpu, harness = bot.cpu() - cpu0, cpu_seconds() - harness0
    waited = time.monotonic() - made_due
    for chat_id in chats:
        standin.listeners.pop(chat_id, None)
    ok = [a for a in arrivals if a[3] == 200]
    failed = len(arrivals) - len(ok)
    times = [a[0] for a in ok]
    per_chat: dict[int, list[float]] = {}
    for moment, _wall, chat, _status in ok:
        per_chat.setdefault(chat, []).append(moment)
    first_of_chat = sorted(min(v) for v in per_chat.values())
    span = (max(times) - min(times)) if len(times) > 1 else float("nan")
    reminder_span = (first_of_chat[-1] - first_of_chat[0]) if len(first_of_chat) > 1 else float("nan")
    last_wall = max((a[1] for a in ok), default=float("nan"))
    return {
        "reminders_due": count,
        "chats_reached": len(reached),
        "all_reached": len(reached) >= len(chats),
        "send_message_calls": len(ok),
        "failed_calls": failed,
        "messages_per_reminder": len(ok) / len(reached) if reached else None,
        "first_send_after_due_s": (min(times) - made_due) if times else None,
        "sending_span_s": span,
        "messages_per_s": (len(times) - 1) / span if span and span == span else None,
        "reminders_per_s": (len(first_of_chat) - 1) / reminder_span
        if reminder_span and reminder_span == reminder_span
        else None,
        "max_messages_in_any_1s": max_in_window(times) if times else 0,
        "max_messages_per_chat_in_any_1s": max((max_in_window(v) for v in per_chat.values()), default=0),
        "chats_with_more_than_1_in_1s": sum(1 for v in per_chat.values() if max_in_window(v) > 1),
        "lateness_of_last_s": last_wall - due.timestamp(),
        "bot_cpu_s": cpu,
        "bot_cpu_utilisation": cpu / waited,
        "harness_cpu_utilisation": harness / waited,
        "due_at": due.isoformat(),
    }


async def run_delivery(
    workdir: Path,
    template: Path,
    count: int,
    *,
    kind: str,
    env: dict[str, str] | None = None,
    timeout: float,
) -> dict[str, Any]:
    """One bot on a fresh copy of the seeded database; start-up times and one delivery."""
    db = copy_database(template, workdir / "bot.db")
    async with MeasuredStandIn() as standin:
        bot = BotUnderTest(standin, workdir, kind, db=db, env=env)
        try:
            start = await bot.start()
            memory_after_start = bot.memory()
            result = await deliver_due(standin, bot, count, timeout=timeout)
            result["start_up"] = start
            result["rss_mb_after_start"] = memory_after_start.get("VmRSS")
            result["peak_rss_mb"] = max(bot.peak_rss_mb, bot.memory().get("VmHWM", 0.0))
        finally:
            await bot.stop()
    result["claimed"] = claimed(db, result.get("due_at"))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return result


async def send_floor(count: int, first_chat: int = 900_000_000, http: str = "httpx") -> dict[str, Any]:
    """bench/send_floor.py against a fresh stand-in: a library alone (python-telegram-bot on
    `http` = httpx or aiohttp, or aiogram), sending `count` reminder-sized messages as fast as
    it can, in a process of its own."""
    async with MeasuredStandIn() as standin:
        for chat_id in range(first_chat, first_chat + count):
            standin.standin.add_user(chat_id)
        harness0 = cpu_seconds()
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.send_floor", "--base-url", standin.base_url,
            "--first-chat", str(first_chat), "--count", str(count), "--http", http,
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await process.communicate()
        waited = time.monotonic() - started
        if process.returncode != 0:
            raise RuntimeError(f"bench.send_floor failed: {err.decode()[-2000:]}")
        result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
        result["harness_cpu_utilisation"] = (cpu_seconds() - harness0) / waited
    return result


def claimed(db: Path, due_at: str | None) -> int | None:
    """Occurrences the bot recorded (claimed) for the due time, sent or not."""
    if due_at is None:
        return None
    with contextlib.closing(sqlite3.connect(db)) as connection:
        row = connection.execute(
            "SELECT count(*) FROM sessions WHERE occurrence = ?", (iso(datetime.fromisoformat(due_at)),)
        ).fetchone()
    return int(row[0])
