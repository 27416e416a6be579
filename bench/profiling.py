"""Reading cProfile output: where a process spent its (main-thread) time.

cProfile sees only the thread it runs in; aiosqlite runs SQL in a thread of its
own, so SQLite's own work shows here only as time the main thread spent waiting
(epoll). The figures report the main/other-thread CPU split next to a profile.
"""

from __future__ import annotations

import pstats
from pathlib import Path
from typing import Any

# (label, substrings of the file name or function text), first match wins.
_AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("idle: waiting in epoll (for I/O or the SQLite thread)", ("select.epoll", "selectors.py")),
    ("import machinery", ("importlib",)),
    ("psoasbot: bot/core", ("/bot/core/",)),
    ("psoasbot: bot/storage", ("/bot/storage/",)),
    ("rate limiter (BroadcastLimiter)", ("/bot/adapters/telegram/limits.py",)),
    ("psoasbot: bot/adapters", ("/bot/adapters/",)),
    ("psoasbot: other", ("/bot/",)),
    ("python-telegram-bot", ("/telegram/",)),
    ("HTTP client (httpx, httpcore, anyio, h11)", ("/httpx/", "/httpcore/", "/anyio/", "/h11/")),
    ("HTTP client (aiohttp, yarl, multidict)", ("/aiohttp/", "/yarl/", "/multidict/")),
    ("aiosqlite (hand-off to its thread)", ("/aiosqlite/", "_queue.SimpleQueue", "queue.py")),
    ("transitions", ("/transitions/",)),
    ("json", ("/json/", "_json")),
    ("asyncio event loop", ("/asyncio/", "_contextvars")),
    ("sockets", ("_socket.socket", "socket.py")),
    ("logging", ("/logging/",)),
    ("regular expressions", ("/re/", "_sre", "re.Pattern")),
    ("yaml, pydantic (start-up)", ("/yaml/", "/pydantic", "pydantic_core")),
)


# Functions worth naming whatever the focus: (label, file name part, function name).
NOTABLE: tuple[tuple[str, str, str], ...] = (
    ("psoasbot ConversationService.handle", "bot/core/service.py", "handle"),
    ("psoasbot engine step", "bot/core/engine.py", "step"),
    ("psoasbot ConversationService._apply (the step on the SQLite thread)", "bot/core/service.py", "_apply"),
    ("psoasbot triage", "bot/core/triage.py", "triage"),
    ("psoasbot Deliverer.flush", "bot/adapters/telegram/delivery.py", "flush"),
    ("psoasbot Scheduler.tick", "bot/core/plan/scheduler.py", "tick"),
    ("psoasbot Scheduler._fire (one reminder claimed)", "bot/core/plan/scheduler.py", "_fire"),
    ("psoasbot next_occurrence", "bot/core/clock.py", "next_occurrence"),
    ("aiosqlite _execute (every hand-off, on_worker included)", "aiosqlite/core.py", "_execute"),
    ("PTB Bot._post (all Bot API calls)", "telegram/_bot.py", "_post"),
    ("PTB Update.de_json", "telegram/_update.py", "de_json"),
    ("PTB Message.de_json (every answer that returns a message)", "telegram/_message.py", "de_json"),
    ("AiohttpRequest.do_request", "bot/adapters/telegram/aiohttp_request.py", "do_request"),
    ("httpcore pool: assign requests to connections", "httpcore/_async/connection_pool.py",
     "_assign_requests_to_connections"),
)  # fmt: skip


def _area(key: tuple[str, int, str]) -> str:
    filename, _line, function = key
    text = f"{filename} {function}"
    for label, needles in _AREAS:
        if any(needle in text for needle in needles):
            return label
    if filename == "~":
        return "other built-ins"
    return "other Python"


def summarize(path: Path, *, top: int = 15, focus: str = "/bot/") -> dict[str, Any]:
    """Self time by area, and the top functions of `focus` by cumulative time, as shares of the
    profiled time that was not idle."""
    stats = pstats.Stats(str(path))
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values())
    areas: dict[str, float] = {}
    for key, (_cc, _nc, tottime, _cum, _callers) in raw.items():
        label = _area(key)
        areas[label] = areas.get(label, 0.0) + tottime
    idle = sum(v for k, v in areas.items() if k.startswith("idle"))
    busy = max(total - idle, 1e-9)
    functions = []
    for key, (_cc, ncalls, _tottime, cumtime, _callers) in raw.items():
        filename, line, function = key
        if focus in filename:
            functions.append((cumtime, ncalls, f"{filename.split(focus, 1)[-1]}:{line} {function}"))
    functions.sort(reverse=True)
    notable = []
    for label, file_part, function_name in NOTABLE:
        cum = sum(
            entry[3]
            for (filename, _line, function), entry in raw.items()
            if file_part in filename and function == function_name
        )
        if cum:
            notable.append({"what": label, "cumulative_s": cum, "share_of_busy": cum / busy})
    return {
        "notable_cumulative": notable,
        "profiled_s": total,
        "idle_s": idle,
        "busy_s": busy,
        "self_time_by_area": [
            {"area": label, "seconds": seconds, "share_of_busy": seconds / busy}
            for label, seconds in sorted(areas.items(), key=lambda kv: -kv[1])
            if not label.startswith("idle")
        ],
        "top_cumulative": [
            {"function": name, "calls": calls, "cumulative_s": cum, "share_of_busy": cum / busy}
            for cum, calls, name in functions[:top]
        ],
    }


def render(title: str, summary: dict[str, Any], *, areas: int = 8) -> str:
    lines = [
        f"  {title}: {summary['busy_s']:.2f} s busy in the profiled thread "
        f"(+{summary['idle_s']:.2f} s idle in epoll)",
        "    self time by area:",
    ]
    for row in summary["self_time_by_area"][:areas]:
        lines.append(f"      {row['share_of_busy'] * 100:5.1f}%  {row['area']}")
    if summary.get("notable_cumulative"):
        lines.append("    named functions, cumulative (share of busy time):")
        for row in summary["notable_cumulative"]:
            lines.append(f"      {row['share_of_busy'] * 100:5.1f}%  {row['what']}")
    lines.append("    top psoasbot functions by cumulative time (share of busy time):")
    for row in summary["top_cumulative"]:
        lines.append(f"      {row['share_of_busy'] * 100:5.1f}%  {row['function']}  ({row['calls']} calls)")
    return "\n".join(lines)


def import_times(python: str, root: Path) -> list[dict[str, Any]]:
    """Seconds spent importing what `psoasbot run` imports, by top-level package (self times summed)."""
    import subprocess

    completed = subprocess.run(
        [python, "-X", "importtime", "-c", "import bot.cli, bot.adapters.telegram.runner"],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    packages: dict[str, float] = {}
    for line in completed.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, _cumulative, name = line.removeprefix("import time:").split("|")
        top = name.strip().split(".")[0]
        packages[top] = packages.get(top, 0.0) + int(own) / 1e6
    total = sum(packages.values())
    rows = [{"package": k, "seconds": v, "share": v / total} for k, v in packages.items()]
    return sorted(rows, key=lambda row: -row["seconds"])
