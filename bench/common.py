"""Small shared pieces: /proc readers, machine facts, percentiles."""

from __future__ import annotations

import os
import platform
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int | str = "self") -> float:
    """utime + stime of a whole process (all its threads), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        text = handle.read()
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_mb(pid: int | str = "self") -> dict[str, float]:
    """VmRSS (now) and VmHWM (peak resident) in MB, from /proc/<pid>/status."""
    found: dict[str, float] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0]) / 1024
    return found


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def latency_summary(seconds: list[float]) -> dict[str, float | None]:
    """Percentiles in ms; an infinite value (a reply that never came) makes a percentile None."""

    def ms(value: float) -> float | None:
        return None if value == float("inf") else value * 1000

    return {
        "count": len(seconds),
        "p50_ms": ms(percentile(seconds, 50)),
        "p95_ms": ms(percentile(seconds, 95)),
        "p99_ms": ms(percentile(seconds, 99)),
        "max_ms": ms(max(seconds)) if seconds else None,
    }


def machine() -> dict[str, Any]:
    model = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="ascii") as handle:
        total_kb = int(handle.readline().split()[1])
    versions = {}
    for name in (
        "python-telegram-bot",
        "aiosqlite",
        "transitions",
        "aiohttp",
        "httpx",
        "pydantic",
        "sniffio",
    ):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    import sqlite3

    return {
        "commit": commit(),
        "cores": os.cpu_count(),
        "cpu_model": model,
        "ram_gb": round(total_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "libraries": versions,
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def commit() -> str | None:
    """The checkout's commit, "+changes" when tracked files differ from it, so a reference run
    names the code it measured; None outside a git checkout."""
    import subprocess

    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{head}+changes" if changed else head


def pin_to_one_core() -> int | None:
    """Pin this process (and threads it starts later) to one CPU; returns the CPU."""
    try:
        cpu = sorted(os.sched_getaffinity(0))[-1]
        os.sched_setaffinity(0, {cpu})
        return cpu
    except (AttributeError, OSError):
        return None


def thread_cpu_seconds(pid: int | str = "self") -> dict[int, float]:
    """CPU seconds per thread id of a process (the main thread's id is the process id)."""
    found: dict[int, float] = {}
    base = Path(f"/proc/{pid}/task")
    for task in base.iterdir():
        try:
            found[int(task.name)] = cpu_seconds(f"{pid}/task/{task.name}")
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return found


def main_thread_share(before: dict[int, float], after: dict[int, float], main: int) -> dict[str, float]:
    """How a process's CPU time in an interval split between its main thread and the others."""
    spent = {tid: after[tid] - before.get(tid, 0.0) for tid in after}
    total = sum(spent.values()) or 1e-9
    main_spent = spent.get(main, 0.0)
    return {
        "main_thread_s": main_spent,
        "other_threads_s": total - main_spent,
        "main_thread_share": main_spent / total,
    }
