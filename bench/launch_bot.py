"""`psoasbot run` with bench-only knobs, for the figures that need the rate limit lifted
or a profile. Nothing in bot/ is changed: a module-level name is rebound in this process.

  BENCH_OVERALL_MAX_RATE=N   AIORateLimiter(overall_max_rate=N); 0 turns the overall limit off
  BENCH_PROFILE=path         write a cProfile of the whole run to path (pstats format)
"""

from __future__ import annotations

import cProfile
import functools
import os
import sys


def main() -> int:
    rate = os.environ.get("BENCH_OVERALL_MAX_RATE")
    if rate is not None:
        from telegram.ext import AIORateLimiter

        import bot.adapters.telegram.runner as runner

        runner.AIORateLimiter = functools.partial(  # type: ignore[misc]
            AIORateLimiter, overall_max_rate=float(rate)
        )
    from bot.cli import main as psoasbot

    profile_path = os.environ.get("BENCH_PROFILE")
    if not profile_path:
        return psoasbot(["run"])
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        return psoasbot(["run"])
    finally:
        profiler.disable()
        profiler.dump_stats(profile_path)


if __name__ == "__main__":
    sys.exit(main())
