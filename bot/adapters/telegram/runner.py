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

Only one process may poll with a token: Telegram answers 409 Conflict to getUpdates
when another poller or a webhook is active. A bot that meets that before its first
answered poll (it is the newcomer) stops at once with one line saying what to do; one
that has been polling takes the poll back at once, which is what makes a newcomer see
the conflict, and stops only if the conflict persists (a webhook set by another instance).
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
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application, ApplicationBuilder, ExtBot

from bot.adapters.telegram.aiohttp_request import use_http_client
from bot.adapters.telegram.delivery import Deliverer, retry_seconds, with_retries
from bot.adapters.telegram.front import ALLOWED_UPDATES, TelegramFront
from bot.adapters.telegram.limits import BroadcastLimiter
from bot.adapters.telegram.observe import ObservedLimiter, bot_api_status, update_kind
from bot.adapters.telegram.processor import PerChatUpdateProcessor
from bot.core.app import Core
from bot.core.clock import Clock, FileClock, SystemClock
from bot.core.plan.effects import PlanEffects
from bot.core.plan.scheduler import Scheduler
from bot.core.plan.service import PlanService
from bot.core.ports import Storage, StorageError
from bot.core.service import ConversationService
from bot.illustrations import Illustrations
from bot.ops import http as ops_http
from bot.ops import probes, trace
from bot.ops.metrics import Metrics
from bot.ops.telemetry import Telemetry
from bot.reports.service import ReportMaker
from bot.storage import open_storage

log = logging.getLogger("psoasbot.telegram.runner")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
PRUNE_EVERY_SECONDS = 3600.0
RETENTION = timedelta(days=7)
"""Applied update ids and sent replies older than this are forgotten (see the README's Storage)."""
SCHEDULER_CONCURRENCY = 64
"""Users whose reminders are sent at once; BroadcastLimiter still caps the overall rate."""
CONFLICTS_TOLERATED = 3
"""409s in a row a bot that has been polling takes back before it gives up (see above)."""


class PollingConflict(Exception):
    """Telegram refuses our getUpdates: another instance polls, or a webhook is set.
    The message is the one line the operator reads."""


class CannotListen(Exception):
    """The webhook server's address cannot be bound (in use, or not this machine's)."""


WEBHOOK_SET = (
    "Telegram refuses polling: a webhook is set for this bot token, so another instance is "
    "probably running in webhook mode. Stop it, or run this one in webhook mode too "
    "(PSOASBOT_WEBHOOK_URL or --webhook); stopping."
)
ANOTHER_POLLER = (
    "another instance is polling Telegram with this bot token, and only one may. Stop the other "
    "one (or give this one its own token from @BotFather); stopping."
)


async def conflict_advice(bot: ExtBot[Any], error: Conflict) -> str:
    """Which of the two conflicts this is: Telegram's wording says so only for a webhook
    already set, so ask it (a poll cut short by a new setWebhook reads like another poller)."""
    webhook = "webhook" in str(error).lower()
    if not webhook:
        with contextlib.suppress(TelegramError):
            webhook = bool((await bot.get_webhook_info()).url)
    return WEBHOOK_SET if webhook else ANOTHER_POLLER


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
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = None
    db_pool_size: int = 10
    db_pool_timeout: float = 30.0
    http_client: str = "aiohttp"
    cache_dir: Path | None = None
    """Where drawn exercise pictures are kept between starts (none: drawn again after a restart)."""

    @property
    def base_file_url(self) -> str | None:
        if self.base_url is None:
            return None
        stem = self.base_url[: -len("/bot")] if self.base_url.endswith("/bot") else self.base_url
        return f"{stem}/file/bot"


def build_application(
    settings: TelegramSettings, telemetry: Telemetry | None = None, limiter: BroadcastLimiter | None = None
) -> Application:  # type: ignore[type-arg]
    # Paces reminders and check-ins only; our own retry policy lives in delivery.py.
    limiter = limiter or BroadcastLimiter(settings.broadcast_per_second)
    builder = (
        ApplicationBuilder()
        .token(settings.token)
        .updater(None)
        .concurrent_updates(PerChatUpdateProcessor(256))
        .rate_limiter(ObservedLimiter(limiter, telemetry) if telemetry else limiter)
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


async def process(
    application: Application,  # type: ignore[type-arg]
    update: Update,
    telemetry: Telemetry | None = None,
    received: float | None = None,
) -> bool:
    """Run one update through the handlers, under the per-chat processor; then one log
    line and the metrics for it. `received`: time.monotonic() when it reached us.
    Returns False when the update must be delivered again (nothing of it was stored
    because the database was briefly away)."""
    handled = trace.UpdateTrace(update.update_id, update_kind(update), received or time.monotonic())
    token = trace.CURRENT.set(handled)
    try:
        await application.update_processor.process_update(update, application.process_update(update))
    except Exception:
        handled.outcome = "error"
        raise
    finally:
        trace.CURRENT.reset(token)
        if telemetry is not None:
            telemetry.update_handled(handled)
    return not handled.redeliver


async def poll(
    application: Application,  # type: ignore[type-arg]
    settings: TelegramSettings,
    stop: asyncio.Event,
    telemetry: Telemetry | None = None,
) -> None:
    """Long-poll until `stop`; raises PollingConflict when another instance has the token."""
    bot = application.bot
    offset: int | None = None
    backoff = 1.0
    answered = conflicts = 0
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
        except (RetryAfter, Conflict, TimedOut, NetworkError) as error:
            if telemetry is not None:
                telemetry.bot_api_error(bot_api_status(error))
            if isinstance(error, RetryAfter):
                await asyncio.sleep(retry_seconds(error.retry_after))
            elif isinstance(error, Conflict):
                conflicts += 1
                if answered == 0 or conflicts >= CONFLICTS_TOLERATED:
                    raise PollingConflict(await conflict_advice(bot, error)) from None
                log.warning("getUpdates conflict; taking the poll back", extra={"conflicts": conflicts})
            else:
                log.warning("getUpdates failed", extra={"error": str(error), "backoff": backoff})
                await _pause(backoff, stop)
                backoff = min(backoff * 2, 30)
            continue
        received = time.monotonic()
        backoff = 1.0
        answered += 1
        conflicts = 0
        if not updates:
            continue
        stored = await asyncio.gather(
            *(process(application, update, telemetry, received) for update in updates)
        )
        offset = updates[-1].update_id + 1
        missed = [update.update_id for update, done in zip(updates, stored, strict=True) if not done]
        if missed:
            # The database was briefly away: ask for the first update not stored again (those
            # after it that were stored are recognised by their ids and applied once).
            offset = min(missed)
            log.warning("updates not stored; asking for them again", extra={"updates": len(missed)})
            await _pause(backoff, stop)
            backoff = min(backoff * 2, 30)
    if offset is not None:  # tell Telegram the last batch is done, so it is not redelivered
        with contextlib.suppress(Exception):
            await bot.get_updates(offset=offset, timeout=0)


async def serve_webhook(
    application: Application,  # type: ignore[type-arg]
    settings: TelegramSettings,
    stop: asyncio.Event,
    ops: ops_http.OpsEndpoints | None = None,
    telemetry: Telemetry | None = None,
) -> None:
    """The webhook, and the ops endpoints beside it (GET /healthz, /readyz, /metrics)."""
    assert settings.webhook_url is not None and settings.webhook_secret is not None
    secret = settings.webhook_secret
    path = urlsplit(settings.webhook_url).path or "/"

    async def receive(request: web.Request) -> web.Response:
        received = time.monotonic()
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
        if not await process(application, update, telemetry, received):
            # Not stored (the database is restarting): Telegram delivers it again later.
            return web.Response(status=503, text="not stored, deliver again")
        return web.Response(status=200, text="ok")

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_post(path, receive)
    if ops is not None:
        ops.add_routes(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.listen, settings.port)
    try:
        await site.start()
    except OSError as error:
        await runner.cleanup()
        raise CannotListen(
            f"cannot listen for the webhook on {settings.listen}:{settings.port}: {error.strerror or error}"
        ) from None
    try:
        await with_retries(
            lambda: application.bot.set_webhook(
                settings.webhook_url or "", secret_token=secret, allowed_updates=ALLOWED_UPDATES
            ),
            "setWebhook",
        )
        if ops is not None:
            ops.state = "serving"
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
    clock: Clock = FileClock(settings.clock_file) if settings.clock_file else SystemClock()
    metrics = Metrics()
    telemetry = Telemetry(metrics, clock)
    limiter = BroadcastLimiter(settings.broadcast_per_second)
    application = build_application(settings, telemetry, limiter)
    storage = await open_storage(
        database, pool_size=settings.db_pool_size, pool_timeout=settings.db_pool_timeout
    )
    # The broadcast limit is Telegram's for the bot, not per process: every instance on a shared
    # database takes its proactive sends' starts from one shared pace (see limits.py). One
    # process on an SQLite file paces in memory: a transaction per send and the shared pace's
    # wider margin would cost it 3.5 % of the rate and CPU for nothing.
    if storage.shared:
        limiter.share_pace(lambda spacing: storage.write(lambda tx: tx.broadcast.claim(spacing)))
    try:
        return await _run(application, core, storage, settings, clock, stop, metrics, telemetry)
    finally:
        await storage.close()


async def _run(
    application: Application,  # type: ignore[type-arg]
    core: Core,
    storage: Storage,
    settings: TelegramSettings,
    clock: Clock,
    stop: asyncio.Event,
    metrics: Metrics,
    telemetry: Telemetry,
) -> int:
    async with contextlib.AsyncExitStack() as servers:
        metrics.read_backlog_with(lambda: probes.outbox_backlog(storage))
        ops = ops_http.OpsEndpoints(metrics, lambda: probes.not_ready_reason(storage))
        if settings.metrics_port is not None:
            try:
                ops_server = await ops_http.serve(ops, settings.metrics_host, settings.metrics_port)
            except OSError as error:
                log.error(
                    f"cannot serve /healthz, /readyz and /metrics on "
                    f"{settings.metrics_host}:{settings.metrics_port}: {error.strerror or error}"
                )
                return 1
            servers.push_async_callback(ops_server.cleanup)
        plan = PlanService(core.content, storage, core.plan_rules, clock)
        effects = PlanEffects(core.content, clock)
        service = ConversationService(core.engine, storage, effects=effects.apply, clock=clock)
        scheduler = Scheduler(core.content, storage, clock, on_due=telemetry.reminder_due)
        # Pictures are drawn on first use and kept on disk; each is uploaded to Telegram once and
        # sent by its file_id after that (the media store), so a restart neither redraws nor re-uploads.
        deliverer = Deliverer(
            application.bot,
            storage,
            lease_seconds=settings.outbox_lease_seconds,
            observer=telemetry,
            pictures=Illustrations(core.content.root, settings.cache_dir),
            messages=core.content.messages,
            languages=lambda code: core.content.in_language(code).messages,
        )
        reports = ReportMaker(core.content, storage, clock, core.plan_rules)
        front = TelegramFront(service, deliverer, core.content.messages, plan, reports)
        application.add_handlers(front.handlers())
        application.add_error_handler(_log_error)
        try:
            await application.initialize()
        except InvalidToken:
            log.error("Telegram rejected the bot token; check TELEGRAM_BOT_TOKEN")
            return 1
        status = 0
        try:
            # The default menu and one per language, all at once: each is a round trip to
            # Telegram, and start-up would otherwise grow by one for every language added.
            await asyncio.gather(
                *(
                    with_retries(
                        lambda commands=commands, code=code: application.bot.set_my_commands(  # type: ignore[misc]
                            commands, language_code=code
                        ),
                        "setMyCommands",
                    )
                    for code, commands in front.menus()
                )
            )
            # Strict: a database that cannot even lease the replies still owed (a full disk) stops
            # the bot here with one line and exit status 1, rather than running half-able.
            resent = await deliverer.flush_all(strict=True)
            # What start-up built (content, flows, compiled patterns, libraries) lives as long as
            # the process: move it out of the garbage collector's reach, so a full collection walks
            # only what updates create (30-150 ms pauses otherwise, every few seconds under load).
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
                    scheduler,
                    deliverer,
                    settings.tick_seconds,
                    stop,
                    chunk=int(settings.broadcast_per_second),
                    telemetry=telemetry,
                )
            )
            try:
                if settings.webhook_url:
                    await serve_webhook(application, settings, stop, ops, telemetry)
                else:
                    await with_retries(lambda: application.bot.delete_webhook(), "deleteWebhook")
                    ops.state = "serving"
                    await poll(application, settings, stop, telemetry)
            except PollingConflict as conflict:
                log.error(str(conflict))
                status = 1
            except CannotListen as error:
                log.error(str(error))
                status = 1
            finally:
                ops.state = "stopping"
                stop.set()
                await ticking
        finally:
            ops.state = "stopping"
            if application.running:
                await application.stop()
            await application.shutdown()
    log.info("bot stopped")
    return status


async def run_scheduler(
    scheduler: Scheduler,
    deliverer: Deliverer,
    tick_seconds: float,
    stop: asyncio.Event,
    chunk: int = 30,
    telemetry: Telemetry | None = None,
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
            error = None if task.cancelled() else task.exception()
            if error is not None:
                if telemetry is not None and isinstance(error, StorageError):
                    telemetry.storage_error()
                log.error("sending due reminders failed", exc_info=error)

        try:
            if time.monotonic() >= next_prune:  # hourly: see bot/storage/sqlite/retention.py
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
        except Exception as error:
            if telemetry is not None and isinstance(error, StorageError):
                telemetry.storage_error()
            log.exception("scheduler tick failed; trying again next tick")
            await asyncio.gather(*pending, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=tick_seconds)


async def _log_error(update: object, context: object) -> None:
    error = getattr(context, "error", None)
    trace.note_outcome("error")
    log.error(
        "error while handling an update",
        exc_info=(type(error), error, error.__traceback__) if isinstance(error, BaseException) else None,
        extra={"update": getattr(update, "update_id", None)},
    )
