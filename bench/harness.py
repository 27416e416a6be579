"""The stand-in, wrapped for measuring, and the bot processes under test.

The stand-in (tests/standin) runs in this process; each bot runs in a subprocess
of its own, so its CPU time (/proc/<pid>/stat) and memory are its alone. Two
hooks are added from outside, without touching tests/standin:
- getUpdates is wrapped to note when each update was first handed to the bot;
- World.record is wrapped so every finished Bot API call is dispatched to the
  simulated user of its chat at once (the stand-in's own `wait_for` wakes every
  waiter on every change, which is quadratic with thousands of users).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import ROOT, cpu_seconds, memory_mb
from tests.standin import BotApiStandIn, Call

TOKEN = "123456789:AAF-bench-token-for-the-stand-in-only"
API_SPEC = ROOT.parent / "shared" / "telegram-bot-api" / "api.json"

FIRST_UPDATE_ID = 100_000_000
Listener = Callable[[Call], None]


class MeasuredStandIn:
    """BotApiStandIn plus hand-out times and per-chat call listeners."""

    def __init__(self, *, spec: bool = False) -> None:
        self.standin = BotApiStandIn(token=TOKEN, api_spec=API_SPEC if spec and API_SPEC.is_file() else None)
        self.spec_checked = spec and API_SPEC.is_file()
        self.handed_out: dict[int, float] = {}
        self.listeners: dict[int, Listener] = {}
        self.first_call: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        # Real update ids are large and only grow; start above the ids of any seeded inbox keys.
        self.standin._world.last_update_id = FIRST_UPDATE_ID - 1
        http = self.standin._http  # wrapping, not editing, the stand-in
        world = http.world
        name, get_updates = http.methods._handlers["getupdates"]

        async def timed_get_updates(request: Any) -> Any:
            result = await get_updates(request)
            now = time.monotonic()
            for update in result:
                self.handed_out.setdefault(update["update_id"], now)
            return result

        http.methods._handlers["getupdates"] = (name, timed_get_updates)
        record = world.record

        def dispatching_record(call: Call) -> None:
            record(call)
            self.first_call.setdefault(call.method, call.time)
            self.counts[call.method] = self.counts.get(call.method, 0) + 1
            chat_id = call.params.get("chat_id")
            if chat_id is not None:
                try:
                    listener = self.listeners.get(int(chat_id))
                except (TypeError, ValueError):
                    listener = None
                if listener is not None:
                    listener(call)

        world.record = dispatching_record  # type: ignore[method-assign]

    async def __aenter__(self) -> MeasuredStandIn:
        await self.standin.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.standin.stop()

    @property
    def world(self) -> Any:
        return self.standin._world

    @property
    def base_url(self) -> str:
        return self.standin.base_url

    def calls(self, method: str | None = None) -> list[Call]:
        return self.standin.calls(method)

    def forget_history(self) -> None:
        """Drop the call log between phases so it does not grow without bound."""
        self.world.calls.clear()
        self.world.answered_callbacks.clear()
        self.handed_out.clear()
        self.counts.clear()


class BotUnderTest:
    """One bot process. Kinds: `psoasbot` (`python -m bot run` as shipped, on aiohttp),
    `psoasbot-launcher` (the same under bench/launch_bot.py, which can profile it),
    `psoasbot-httpx` (the launcher with PSOASBOT_HTTP=httpx, python-telegram-bot's default
    request class: psoasbot as it was before AiohttpRequest), `floor` (bench/floor_bot.py on
    python-telegram-bot's default httpx), `floor-aiohttp` (the same floor on AiohttpRequest)
    and `floor-aiogram` (bench/aiogram_floor.py)."""

    def __init__(
        self,
        standin: MeasuredStandIn,
        workdir: Path,
        kind: str = "psoasbot",
        *,
        db: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.standin = standin
        self.workdir = workdir
        self.kind = kind
        self.db = db or workdir / "bot.db"
        self.log = workdir / f"{kind}.log"
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_BASE_URL": standin.base_url,
            "PSOASBOT_DB": str(self.db),
            "PSOASBOT_POLL_TIMEOUT": "10",
            "PSOASBOT_LOG_LEVEL": "WARNING",
            # Each kind names its HTTP layer outright, whatever the bench itself was started with.
            "PSOASBOT_HTTP": "httpx" if kind == "psoasbot-httpx" else "aiohttp",
            "BENCH_HTTP": "aiohttp" if kind == "floor-aiohttp" else "httpx",
            **(env or {}),
        }
        self.process: asyncio.subprocess.Process | None = None
        self.spawned_at = 0.0
        self.peak_rss_mb = 0.0
        self._sampler: asyncio.Task[None] | None = None

    def command(self) -> list[str]:
        if self.kind == "psoasbot":
            return [sys.executable, "-m", "bot", "run"]
        if self.kind in ("psoasbot-launcher", "psoasbot-httpx"):
            return [sys.executable, "-m", "bench.launch_bot"]
        if self.kind in ("floor", "floor-aiohttp"):
            return [sys.executable, "-m", "bench.floor_bot"]
        if self.kind == "floor-aiogram":
            return [sys.executable, "-m", "bench.aiogram_floor"]
        raise ValueError(self.kind)

    async def start(self, timeout: float = 60.0) -> dict[str, float]:
        """Start and wait until it long-polls; returns start-up times in seconds."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        commands_before = self.standin.counts.get("setMyCommands", 0)
        with self.log.open("ab") as log:
            self.spawned_at = time.monotonic()
            self.process = await asyncio.create_subprocess_exec(
                *self.command(),
                cwd=self.workdir,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        deadline = self.spawned_at + timeout
        commands_at = polling_at = None
        while time.monotonic() < deadline:
            if self.process.returncode is not None:
                raise RuntimeError(
                    f"{self.kind} exited with {self.process.returncode}:\n{self.logs()[-3000:]}"
                )
            if commands_at is None and self.standin.counts.get("setMyCommands", 0) > commands_before:
                commands_at = max(c.time for c in self.standin.calls("setMyCommands"))
            if commands_at is not None and self.standin.standin.polling:
                polling_at = time.monotonic()
                break
            await asyncio.sleep(0.005)
        if commands_at is None or polling_at is None:
            raise RuntimeError(f"{self.kind} did not start polling in {timeout}s:\n{self.logs()[-3000:]}")
        first_poll = [c.time for c in self.standin.calls("getUpdates") if c.time >= self.spawned_at]
        self._sampler = asyncio.ensure_future(self._sample_memory())
        return {
            "to_set_my_commands_s": commands_at - self.spawned_at,
            "to_first_get_updates_s": polling_at - self.spawned_at,
            "first_get_updates_logged": bool(first_poll),
        }

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def memory(self) -> dict[str, float]:
        return memory_mb(self.pid)

    async def _sample_memory(self) -> None:
        with contextlib.suppress(Exception):
            while self.process is not None and self.process.returncode is None:
                self.peak_rss_mb = max(self.peak_rss_mb, self.memory().get("VmHWM", 0.0))
                await asyncio.sleep(0.25)

    async def stop(self, timeout: float = 30.0) -> int:
        if self.process is None:
            return 0
        with contextlib.suppress(ProcessLookupError, FileNotFoundError):
            self.peak_rss_mb = max(self.peak_rss_mb, self.memory().get("VmHWM", 0.0))
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout=timeout)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler
        return self.process.returncode or 0

    def logs(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
