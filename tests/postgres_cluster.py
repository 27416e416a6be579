"""Several real bot processes in webhook mode on one PostgreSQL database, behind a small
round-robin load balancer, with the Bot API stand-in playing Telegram (it delivers queued
updates to the one registered webhook URL, in order, and keeps any that did not get a 2xx
for the next round, as Telegram does)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

from tests.standin import BotApiStandIn
from tests.telegram_support import TYPICAL_TAPS, WAIT, BotProcess, TelegramUser

SECRET = "cluster-secret_1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Balancer:
    """Forwards each webhook POST to the next instance in turn; 502 when that one is down."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._turn = itertools.cycle(range(len(ports)))
        self._runner: web.AppRunner | None = None
        self.statuses: list[int] = []

    async def start(self) -> Balancer:
        app = web.Application()
        app.router.add_post("/hook", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        port = self.ports[next(self._turn)]
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session,
                session.post(
                    f"http://127.0.0.1:{port}/hook",
                    data=body,
                    headers={
                        "Content-Type": "application/json",
                        "X-Telegram-Bot-Api-Secret-Token": request.headers.get(
                            "X-Telegram-Bot-Api-Secret-Token", ""
                        ),
                    },
                ) as response,
            ):
                status = response.status
        except (aiohttp.ClientError, TimeoutError):
            status = 502
        self.statuses.append(status)
        return web.Response(status=status)


class Cluster:
    """`count` instances of `psoasbot run` in webhook mode on one database."""

    def __init__(self, standin: BotApiStandIn, workdir: Path, dsn: str, count: int = 3, **env: str) -> None:
        self.standin = standin
        self.workdir = workdir
        self.dsn = dsn
        self.env = env
        self.ports = [free_port() for _ in range(count)]
        self.balancer = Balancer(self.ports)
        self.bots: list[BotProcess | None] = [None] * count
        self._pump: asyncio.Task[None] | None = None
        self.kills = 0

    def _bot(self, index: int) -> BotProcess:
        folder = self.workdir / f"instance{index}"
        folder.mkdir(exist_ok=True)
        return BotProcess(
            self.standin,
            folder,
            "--webhook",
            self.balancer.url,
            "--listen",
            "127.0.0.1",
            "--port",
            str(self.ports[index]),
            TELEGRAM_WEBHOOK_SECRET=SECRET,
            PSOASBOT_DB=self.dsn,
            **self.env,
        )

    async def start(self) -> Cluster:
        await self.balancer.start()
        for index in range(len(self.ports)):
            await self.start_instance(index)
        self._pump = asyncio.create_task(self._deliver())
        return self

    async def start_instance(self, index: int) -> None:
        bot = self._bot(index)
        await bot.start(wait_until_polling=False)
        self.bots[index] = bot
        await self.wait_listening(index)

    async def wait_listening(self, index: int) -> None:
        async def ready() -> bool:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with (
                    aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session,
                    session.get(f"http://127.0.0.1:{self.ports[index]}/readyz") as response,
                ):
                    return response.status == 200
            return False

        for _ in range(int(WAIT / 0.1)):
            if await ready():
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"instance {index} never became ready")

    async def kill(self, index: int) -> None:
        bot = self.bots[index]
        assert bot is not None
        await bot.kill()
        self.kills += 1

    async def _deliver(self) -> None:
        """Telegram's side: deliver what is queued to the webhook, again and again."""
        while True:
            with contextlib.suppress(Exception):
                await self.standin.deliver_pending_to_webhook()
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        for bot in self.bots:
            if bot is not None and bot.process is not None and bot.process.returncode is None:
                await bot.stop()
        await self.balancer.stop()

    def logs(self) -> str:
        return "\n".join(bot.logs()[-3000:] for bot in self.bots if bot is not None)


@contextlib.asynccontextmanager
async def running_cluster(
    standin: BotApiStandIn, workdir: Path, dsn: str, count: int = 3, **env: str
) -> AsyncIterator[Cluster]:
    cluster = Cluster(standin, workdir, dsn, count, **env)
    try:
        yield await cluster.start()
    finally:
        await cluster.stop()


async def walk_typical_check(user: TelegramUser) -> None:
    """/start and the typical check by buttons, each reply awaited (as a person would)."""
    await user.command("/start", "Shall we start?")
    for label, expect in TYPICAL_TAPS:
        await user.tap(label, expect)
