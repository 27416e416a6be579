"""Figure 2, run in a process of its own pinned to one CPU: conversation steps per
second through ConversationService on an SQLite file, one transaction per step.

  python -m bench.core_worker --db PATH --seconds S [--users K] [--mode front|bare]

`front` calls `handle` the way the Telegram front does (inbox key + outbox
context, so each step also records the update and writes its replies to the
outbox); `bare` calls it with neither. Users are drawn from the seeded users
(who have finished one check), and each walks the typical check again, over and
over. Every transitions.Machine created in the process is counted, so a machine
built per message would show. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import random
import sqlite3
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, cpu_seconds, main_thread_share, memory_mb, pin_to_one_core, thread_cpu_seconds

MACHINES_BUILT = 0
STATEMENTS = 0
HOPS = 0


def count_hops() -> None:
    """Count hand-offs to aiosqlite's thread (every execute, fetch and `on_worker` call is one).

    `Connection._execute` is aiosqlite's private queueing method, the one place every
    hand-off goes through (bot/storage/sqlite/connection.py's `on_worker` uses it too).
    """
    import aiosqlite

    original = aiosqlite.Connection._execute

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        global HOPS
        HOPS += 1
        return original(self, *args, **kwargs)

    aiosqlite.Connection._execute = counting  # type: ignore[method-assign]


def _count_statement(_sql: str) -> None:
    global STATEMENTS
    STATEMENTS += 1


async def trace_statements(database: Any, on: bool) -> None:
    """Count (or stop counting) the SQL statements SQLite itself runs on the database's connection.

    A trace callback on the sqlite3 connection sees every statement however it is
    sent (one `execute` each, a step's batch in one hand-off, each row of an
    executemany), so the figure stays true whatever the code's shape. It costs
    about a fifth of a step (sqlite3 expands every statement's parameters into
    text for it), so statements are counted in a run of their own, not the timed one.
    """
    from bot.storage.sqlite.connection import on_worker

    callback = _count_statement if on else None
    await on_worker(database.connection, lambda raw: raw.set_trace_callback(callback))


async def start_profiling(database: Any) -> tuple[Any, Any]:
    """cProfile the main thread and the database thread, where a step's work now runs."""
    import cProfile

    from bot.storage.sqlite.connection import on_worker

    main, worker = cProfile.Profile(), cProfile.Profile()
    await on_worker(database.connection, lambda _raw: worker.enable())
    main.enable()
    return main, worker


async def stop_profiling(database: Any, profilers: tuple[Any, Any], path: Path) -> None:
    """Both threads' profiles in one file (the main thread's idle time shows as epoll)."""
    import pstats

    from bot.storage.sqlite.connection import on_worker

    main, worker = profilers
    main.disable()
    await on_worker(database.connection, lambda _raw: worker.disable())
    stats = pstats.Stats(main)
    stats.add(worker)
    stats.dump_stats(path)


def count_machines() -> None:
    from transitions.core import Machine

    original = Machine.__init__

    def counting_init(self: Any, *args: Any, **kwargs: Any) -> None:
        global MACHINES_BUILT
        MACHINES_BUILT += 1
        original(self, *args, **kwargs)

    Machine.__init__ = counting_init  # type: ignore[method-assign]


async def run(
    db: Path, seconds: float, users: int, mode: str, seed_base: int, profile: Path | None = None
) -> dict[str, Any]:
    from bench.conversation import PSOASBOT_SCRIPT
    from bench.seed import button_data
    from bot.core.app import build_core
    from bot.core.events import NewCheck, Press, Start
    from bot.core.service import ConversationService
    from bot.storage.sqlite import SqliteStorage

    machines_before_build = MACHINES_BUILT
    core = build_core(ROOT / "content", ROOT / "flows", offer_reminders=True)
    machines_at_start = MACHINES_BUILT
    with sqlite3.connect(db) as connection:
        stored = connection.execute("SELECT count(*) FROM users").fetchone()[0]
    chosen = random.Random(7).sample(range(1, stored + 1), min(users, stored))
    counter = 1_000_000_000
    steps = 0
    front = mode == "front"

    async with SqliteStorage(db) as database:
        service = ConversationService(core.engine, database)

        where: dict[str, tuple[int, Any]] = {}

        async def walk(external_id: str, until: float, most: int | None = None) -> None:
            """Carry on with this user's check where the last phase left it (for at most `most` steps)."""
            nonlocal counter, steps
            # A user's first input is /check, so a check left half done by an earlier run starts afresh.
            position, replies = where.get(external_id, (-1, None))
            taken = 0
            while time.monotonic() < until and (most is None or taken < most):
                taken += 1
                step = PSOASBOT_SCRIPT[max(position, 0)]
                try:
                    if position < 0:
                        event: Any = NewCheck()
                    elif step.kind == "text":
                        event = Start()
                    else:
                        event = Press(button_data(replies, step.payload))
                except LookupError as error:
                    raise LookupError(f"user {external_id} step {position}: {error}; got {replies}") from None
                counter += 1
                handled = await service.handle(
                    "telegram",
                    external_id,
                    event,
                    inbox_key=f"update:{counter}" if front else None,
                    outbox_context={"pressed_message_id": 3} if front else None,
                )
                replies = handled.replies
                steps += 1
                position = (position + 1) % len(PSOASBOT_SCRIPT)
            where[external_id] = (position, replies)

        ids = [str(seed_base + i) for i in chosen]
        # Warm up (page cache, first-use costs), then measure.
        await asyncio.gather(*(walk(i, time.monotonic() + min(2.0, seconds / 4)) for i in ids))
        gc.collect()
        rss_before = memory_mb()["VmRSS"]
        steps = 0
        hops0 = HOPS
        threads0 = thread_cpu_seconds()
        profilers = await start_profiling(database) if profile else None
        cpu0, t0 = cpu_seconds(), time.monotonic()
        await asyncio.gather(*(walk(i, t0 + seconds) for i in ids))
        elapsed, cpu = time.monotonic() - t0, cpu_seconds() - cpu0
        if profile and profilers is not None:
            await stop_profiling(database, profilers, profile)
        threads = main_thread_share(threads0, thread_cpu_seconds(), os.getpid())
        hops, timed_steps = HOPS - hops0, steps
        # Statements are counted in a run of their own (the trace slows steps down): one
        # whole check per user, so every step of the script counts once.
        steps = 0
        await trace_statements(database, on=True)
        await asyncio.gather(*(walk(i, math.inf, len(PSOASBOT_SCRIPT)) for i in ids))
        await trace_statements(database, on=False)
        statements_per_step = STATEMENTS / steps if steps else None
        steps = timed_steps
        gc.collect()
        memory = memory_mb()
    return {
        "stored_users": stored,
        "mode": mode,
        "concurrent_users": len(ids),
        "steps": steps,
        "seconds": elapsed,
        "steps_per_s": steps / elapsed,
        "cpu_utilisation": cpu / elapsed,
        "cpu_ms_per_step": cpu / steps * 1000 if steps else None,
        "sql_statements_per_step": statements_per_step,
        "thread_hops_per_step": hops / steps if steps else None,
        **threads,
        "machines_built_at_start_up": machines_at_start - machines_before_build,
        "machines_built_while_stepping": MACHINES_BUILT - machines_at_start,
        "rss_mb_before": rss_before,
        "rss_mb_after": memory["VmRSS"],
        "peak_rss_mb": memory["VmHWM"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--mode", choices=("front", "bare"), default="front")
    parser.add_argument("--seed-base", type=int, default=10_000_000)
    parser.add_argument("--profile", type=Path)
    args = parser.parse_args()
    cpu = pin_to_one_core()
    count_machines()
    count_hops()
    result = asyncio.run(run(args.db, args.seconds, args.users, args.mode, args.seed_base, args.profile))
    result["pinned_cpu"] = cpu
    print(json.dumps(result))


if __name__ == "__main__":
    main()
