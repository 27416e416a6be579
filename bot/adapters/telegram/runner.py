"""Start the Telegram bot: polling (default) or webhook.

Both ways acknowledge an update to Telegram only after it has been stored:
- Polling: our own loop calls getUpdates, processes the whole batch (one chat
  in order, chats side by side), and only then asks for the next offset, which
  is what tells Telegram the batch is done. PTB's Updater confirms updates as
  soon as it has queued them, so a crash would lose whatever was in its queue.
- Webhook: a small aiohttp server answers 200 only after the update has been
  processed; Telegram redelivers anything else. Requests without the right
  X-Telegram-Bot-Api-Secret-Token are refused with 403.
A redelivered update is recognised by its id (the inbox) and applied once.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hmac
import logging
import os
import signal
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import Application, ApplicationBuilder

from bot.adapters.telegram.aiohttp_request import use_http_client
from bot.adapters.telegram.delivery import Deliverer, retry_seconds, with_retries
from bot.adapters.telegram.front import ALLOWED_UPDATES, TelegramFront
from bot.adapters.telegram.limits import BroadcastLimiter
from bot.adapters.telegram.processor import PerChatUpdateProcessor
from bot.core.app import Core
from bot.core.clock import FileClock, SystemClock
from bot.core.plan.effects import PlanEffects
from bot.core.plan.scheduler import Scheduler
from bot.core.plan.service import PlanService
from bot.core.ports import Storage
from bot.core.service import ConversationService
from bot.reports.service import ReportMaker
from bot.storage import open_storage

log = logging.getLogger("psoasbot.telegram.runner")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
PRUNE_EVERY_SECONDS = 3600.0
RETENTION = timedelta(days=7)
"""Applied update ids and sent replies older than this are forgotten (see the README's Storage)."""
SCHEDULER_CONCURRENCY = 64
"""Users whose reminders are sent at once; BroadcastLimiter still caps the overall rate."""


@dataclass(frozen=True)
class TelegramSettings:
    token: str
    base_url: str | None = None
    poll_timeout: int = 30
    tick_seconds: float = 1.0
    outbox_lease_seconds: float = 30.0
    broadcast_per_second: float = 30.0
    clock_file: str | None = None
    webhook_url: str | None = None
    listen: str = "127.0.0.1"
    port: int = 8443
    webhook_secret: str | None = None
    http_client: str = "aiohttp"

    @property
    def base_file_url(self) -> str | None:
        if self.base_url is None:
            return None
        stem = self.base_url[: -len("/bot")] if self.base_url.endswith("/bot") else self.base_url
        return f"{stem}/file/bot"


def build_application(settings: TelegramSettings) -> Application:  # type: ignore[type-arg]
    builder = (
        ApplicationBuilder()
        .token(settings.token)
        .updater(None)
        .concurrent_updates(PerChatUpdateProcessor(256))
        # Paces reminders and check-ins only; our own retry policy lives in delivery.py.
        .rate_limiter(BroadcastLimiter(settings.broadcast_per_second))
    )
    builder = use_http_client(
        builder,
        "httpx" if settings.http_client == "httpx" else "aiohttp",
        connection_pool_size=64,
        connect_timeout=10,
        read_timeout=15,
        write_timeout=15,
        pool_timeout=10,
    )
    if settings.base_url:
        builder = builder.base_url(settings.base_url)
        if settings.base_file_url:
            builder = builder.base_file_url(settings.base_file_url)
    return builder.build()


async def process(application: Application, update: Update) -> None:  # type: ignore[type-arg]
    """Run one update through the handlers, under the per-chat processor."""
    await application.update_processor.process_update(update, application.process_update(update))


async def poll(application: Application, settings: TelegramSettings, stop: asyncio.Event) -> None:  # type: ignore[type-arg]
    bot = application.bot
    offset: int | None = None
    backoff = 1.0
    while not stop.is_set():
        fetch = asyncio.ensure_future(
            bot.get_updates(
                offset=offset,
                timeout=settings.poll_timeout,
                allowed_updates=ALLOWED_UPDATES,
                read_timeout=settings.poll_timeout + 10,
            )
        )
        stopping = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if fetch not in done:
            fetch.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await fetch
            break
        stopping.cancel()
        try:
            updates = fetch.result()
        except RetryAfter as error:
            await asyncio.sleep(retry_seconds(error.retry_after))
            continue
        except Conflict:
            log.error("another process is polling with this token; retrying", extra={"backoff": backoff})
            await _pause(backoff, stop)
            backoff = min(backoff * 2, 30)
            continue
        except (TimedOut, NetworkError) as error:
            log.warning("getUpdates failed", extra={"error": str(error), "backoff": backoff})
            await _pause(backoff, stop)
            backoff = min(backoff * 2, 30)
            continue
        backoff = 1.0
        if not updates:
            continue
        await asyncio.gather(*(process(application, update) for update in updates))
        offset = updates[-1].update_id + 1
    if offset is not None:  # tell Telegram the last batch is done, so it is not redelivered
        with contextlib.suppress(Exception):
            await bot.get_updates(offset=offset, timeout=0)


async def serve_webhook(application: Application, settings: TelegramSettings, stop: asyncio.Event) -> None:  # type: ignore[type-arg]
    assert settings.webhook_url is not None and settings.webhook_secret is not None
    secret = settings.webhook_secret
    path = urlsplit(settings.webhook_url).path or "/"

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            log.warning("webhook request with a wrong secret refused", extra={"remote": request.remote})
            return web.Response(status=403, text="forbidden")
        try:
            data = await request.json()
            update = Update.de_json(data, application.bot)
        except Exception:
            return web.Response(status=400, text="bad update")
        if update is None:
            return web.Response(status=400, text="bad update")
        await process(application, update)
        return web.Response(status=200, text="ok")

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post(path, receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.listen, settings.port)
    await site.start()
    try:
        await with_retries(
            lambda: application.bot.set_webhook(
                settings.webhook_url or "", secret_token=secret, allowed_updates=ALLOWED_UPDATES
            ),
            "setWebhook",
        )
        log.info("webhook listening", extra={"listen": settings.listen, "port": settings.port, "path": path})
        await stop.wait()
    finally:
        await runner.cleanup()


async def _pause(seconds: float, stop: asyncio.Event) -> None:
    """Back off, but wake at once on shutdown (SIGTERM during an outage)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def run_telegram(core: Core, database: str | Path, settings: TelegramSettings) -> int:
    """Run until SIGINT or SIGTERM; returns the process exit status."""
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    application = build_application(settings)
    clock = FileClock(settings.clock_file) if settings.clock_file else SystemClock()
    storage = await open_storage(database)
    try:
        return await _run(application, core, storage, settings, clock, stop)
    finally:
        await storage.close()


async def _run(
    application: Application,  # type: ignore[type-arg]
    core: Core,
    storage: Storage,
    settings: TelegramSettings,
    clock: FileClock | SystemClock,
    stop: asyncio.Event,
) -> int:
    plan = PlanService(core.content, storage, core.plan_rules, clock)
    effects = PlanEffects(core.content, clock)
    service = ConversationService(core.engine, storage, effects=effects.apply, clock=clock)
    scheduler = Scheduler(core.content, storage, clock)
    deliverer = Deliverer(application.bot, storage, lease_seconds=settings.outbox_lease_seconds)
    reports = ReportMaker(core.content, storage, clock, core.plan_rules)
    front = TelegramFront(service, deliverer, core.content.messages, plan, reports)
    application.add_handlers(front.handlers())
    application.add_error_handler(_log_error)
    try:
        await application.initialize()
    except InvalidToken:
        log.error("Telegram rejected the bot token; check TELEGRAM_BOT_TOKEN")
        return 1
    try:
        await with_retries(lambda: application.bot.set_my_commands(front.commands()), "setMyCommands")
        # Strict: a database that cannot even lease the replies still owed (a full disk) stops
        # the bot here with one line and exit status 1, rather than running half-able.
        resent = await deliverer.flush_all(strict=True)
        # What start-up built (content, flows, compiled patterns, libraries) lives as long as the
        # process: move it out of the garbage collector's reach, so a full collection walks only
        # what updates create (measured: 30-150 ms pauses otherwise, every few seconds under load).
        gc.collect()
        gc.freeze()
        await application.start()
        log.info(
            "bot started",
            extra={
                "mode": "webhook" if settings.webhook_url else "polling",
                "resent_users": resent,
                "http": settings.http_client,
            },
        )
        ticking = asyncio.ensure_future(
            run_scheduler(
                scheduler, deliverer, settings.tick_seconds, stop, chunk=int(settings.broadcast_per_second)
            )
        )
        try:
            if settings.webhook_url:
                await serve_webhook(application, settings, stop)
            else:
                await with_retries(lambda: application.bot.delete_webhook(), "deleteWebhook")
                await poll(application, settings, stop)
        finally:
            stop.set()
            await ticking
    finally:
        if application.running:
            await application.stop()
        await application.shutdown()
    log.info("bot stopped")
    return 0


async def run_scheduler(
    scheduler: Scheduler,
    deliverer: Deliverer,
    tick_seconds: float,
    stop: asyncio.Event,
    chunk: int = 30,
) -> None:
    """Every tick: claim due reminders into the outbox, send them, and sweep any
    outbox rows left behind (by a crash, or by another process whose lease ran out).
    Once an hour (and at start-up), old transport bookkeeping is pruned.

    Claiming and sending overlap: a chunk of `chunk` reminders (about one second's
    worth at the broadcast rate) is claimed, its sends start, and the next chunk is
    claimed only while at most one more chunk is still being sent. So the first
    reminder of a large backlog leaves at once, memory stays bounded, and a SIGTERM
    waits for at most about two seconds of sends. Sends go through the same Deliverer
    as replies, paced by BroadcastLimiter; one chat never gets two reminders at once.
    """
    sending = asyncio.Semaphore(SCHEDULER_CONCURRENCY)

    async def send(user_id: int, chat_id: str) -> None:
        async with sending:
            await deliverer.flush(user_id, int(chat_id))

    next_prune = 0.0
    while not stop.is_set():
        pending: set[asyncio.Future[None]] = set()
        room = asyncio.Event()

        def sent(
            task: asyncio.Future[None],
            pending: set[asyncio.Future[None]] = pending,
            room: asyncio.Event = room,
        ) -> None:
            # O(1) per send: asyncio.wait(FIRST_COMPLETED) over a thousand pending sends cost a
            # quarter of the bot's CPU at 1,000 reminders/s.
            pending.discard(task)
            room.set()
            if not task.cancelled() and task.exception() is not None:
                log.error("sending due reminders failed", exc_info=task.exception())

        try:
            if time.monotonic() >= next_prune:  # hourly: see bot/storage/retention.py
                next_prune = time.monotonic() + PRUNE_EVERY_SECONDS
                # Real time, not the plan's clock: the rows are stamped with real time.
                deleted = await scheduler.storage.prune(datetime.now(UTC), RETENTION)
                if any(deleted.values()):
                    log.info("old transport rows pruned", extra={"deleted": deleted})
            async with contextlib.aclosing(scheduler.claim_due(chunk)) as claims:
                async for touched in claims:
                    for user, chat in touched:
                        task = asyncio.ensure_future(send(user, chat))
                        pending.add(task)
                        task.add_done_callback(sent)
                    while len(pending) > chunk:
                        room.clear()
                        await room.wait()
                    if stop.is_set():
                        break  # what is claimed is in the outbox: the next start sends it
            await asyncio.gather(*pending, return_exceptions=True)  # failures are logged by `sent`
            await deliverer.flush_all()
        except Exception:
            log.exception("scheduler tick failed; trying again next tick")
            await asyncio.gather(*pending, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=tick_seconds)


async def _log_error(update: object, context: object) -> None:
    error = getattr(context, "error", None)
    log.error(
        "error while handling an update",
        exc_info=(type(error), error, error.__traceback__) if isinstance(error, BaseException) else None,
        extra={"update": getattr(update, "update_id", None)},
    )
