"""`psoasbot run`, optionally under cProfile. Nothing in bot/ is changed.

BENCH_PROFILE=path         write a cProfile of the whole run to path (pstats format)
"""

from __future__ import annotations

import cProfile
import os
import sys


def main() -> int:
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
