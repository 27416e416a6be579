"""Figure 3 (claiming alone), in a process of its own pinned to one CPU: how fast
the scheduler's tick() claims due reminders into the outbox, with nothing sent.

  python -m bench.tick_worker --db PATH [--profile FILE]

The database must already hold the due reminders (bench.seed.make_due). tick()
is called the way run_scheduler calls it (limit 500 per call) until nothing is
due. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, cpu_seconds, main_thread_share, memory_mb, pin_to_one_core, thread_cpu_seconds


async def run(db: Path, profile: Path | None) -> dict[str, Any]:
    from bot.core.app import build_core
    from bot.core.plan.scheduler import Scheduler
    from bot.storage.sqlite import SqliteStorage

    core = build_core(ROOT / "content", ROOT / "flows", offer_reminders=True)
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    async with SqliteStorage(db) as database:
        plan = Scheduler(core.content, database)
        ticks: list[tuple[int, float]] = []
        threads0 = thread_cpu_seconds()
        cpu0, t0 = cpu_seconds(), time.monotonic()
        if profiler:
            profiler.enable()
        while True:
            began = time.monotonic()
            claimed = await plan.tick()
            ticks.append((len(claimed), time.monotonic() - began))
            if not claimed:
                break
        if profiler:
            profiler.disable()
            profiler.dump_stats(profile)
        elapsed, cpu = time.monotonic() - t0, cpu_seconds() - cpu0
        threads = main_thread_share(threads0, thread_cpu_seconds(), os.getpid())
    total = sum(n for n, _ in ticks)
    busy = [seconds for n, seconds in ticks if n]
    return {
        "claimed": total,
        "ticks": len(busy),
        "seconds": elapsed,
        "claimed_per_s": total / elapsed if elapsed else None,
        "seconds_per_tick_call": sum(busy) / len(busy) if busy else None,
        "cpu_ms_per_reminder": cpu / total * 1000 if total else None,
        **threads,
        "peak_rss_mb": memory_mb()["VmHWM"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--profile", type=Path)
    args = parser.parse_args()
    cpu = pin_to_one_core()
    result = asyncio.run(run(args.db, args.profile))
    result["pinned_cpu"] = cpu
    print(json.dumps(result))


if __name__ == "__main__":
    main()
