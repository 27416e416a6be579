"""The operator's view of a real bot process: /healthz, /readyz and /metrics (polling mode on
PSOASBOT_METRICS_PORT, webhook mode beside the webhook), one log line per update and per
reminder sent, webhook settings from the environment, and a second poller on the same token."""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from telegram.error import BadRequest, Conflict, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.adapters.telegram.observe import bot_api_status
from bot.ops.metrics import Metrics
from bot.storage.sqlite.migrations import MIGRATIONS
from tests.support import rows
from tests.telegram_support import TOKEN, TYPICAL_TAPS, WAIT, BotProcess, Clock, TelegramUser, new_standin
from tests.test_telegram_reminders import set_up_reminders

T = TypeVar("T")


@pytest.fixture()
async def standin():
    async with new_standin() as running:
        yield running


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def get(port: int, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}{path}") as answer:
        return answer.status, await answer.text()


def sample(exposition: str, name: str, **labels: str) -> float:
    """The sum of the samples called `name` whose labels include `labels` (0 when none)."""
    total = 0.0
    for family in text_string_to_metric_families(exposition):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                total += found.value
    return total


def log_entries(bot: BotProcess, event: str | None = None) -> list[dict[str, Any]]:
    entries = [json.loads(line) for line in bot.logs().splitlines() if line.startswith("{")]
    return [e for e in entries if event is None or e["event"] == event]


async def eventually(predicate: Callable[[], T | None], what: str, timeout: float = WAIT) -> T:
    """For conditions the stand-in does not see change (log files, the bot's own server)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.05)


async def test_polling_bot_serves_health_readiness_metrics_and_logs_one_line_per_update(standin, tmp_path):
    port = free_port()
    bot = await BotProcess(standin, tmp_path, PSOASBOT_METRICS_PORT=str(port)).start()
    user = TelegramUser(standin)

    assert await get(port, "/healthz") == (200, '{"status": "alive"}')
    assert await get(port, "/readyz") == (200, '{"status": "ready"}')

    await user.command("/start", "Shall we start?")
    for label, expect in TYPICAL_TAPS[:2]:
        await user.tap(label, expect)
    typed = "my left hip hurts when I climb stairs"
    await user.say(typed, "Does the pain spread")
    question = user.live_question()
    await standin.press_button(user.chat_id, question.message_id, "1:zz", strict=False)  # forged
    # The next two calls that name the chat fail (whichever they are): flood control, then a 500.
    standin.inject("*", 429, times=1, chat_id=user.chat_id, retry_after=1)
    standin.inject("*", 500, times=1, chat_id=user.chat_id)
    await user.tap("None of these", "How does sitting affect it?")
    lines = await eventually(
        lambda: len(log_entries(bot, "update")) == 6 and log_entries(bot, "update"), "6 lines"
    )

    status, text = await get(port, "/metrics")
    assert status == 200
    assert sample(text, "psoasbot_updates_total", kind="command", outcome="ok") == 1
    assert sample(text, "psoasbot_updates_total", kind="button", outcome="ok") == 3
    assert sample(text, "psoasbot_updates_total", kind="text", outcome="ok") == 1
    assert sample(text, "psoasbot_updates_total", kind="button", outcome="rejected") == 1
    assert sample(text, "psoasbot_errors_total", kind="rejected_input") == 1
    assert sample(text, "psoasbot_errors_total", kind="bot_api", status="429") == 1
    assert sample(text, "psoasbot_errors_total", kind="bot_api", status="5xx") == 1
    # Every update that got a reply is in the latency histogram; the one that waited out the
    # 429 took at least its retry_after.
    assert sample(text, "psoasbot_reply_latency_seconds_count") == 6
    assert sample(text, "psoasbot_reply_latency_seconds_bucket", le="0.5") <= 5
    assert sample(text, "psoasbot_outbox_backlog") == 0
    assert sample(text, "process_resident_memory_bytes") > 0

    # One line per update: ids, kind, timing and outcome; the stored user id; nothing typed.
    stored_user = rows(bot.db, "SELECT id FROM users")[0][0]
    assert [(e["update"], e["kind"], e["outcome"]) for e in lines] == [
        (1, "command", "ok"),
        (2, "button", "ok"),
        (3, "button", "ok"),
        (4, "text", "ok"),
        (5, "button", "rejected"),
        (6, "button", "ok"),
    ]
    assert all(e["user"] == stored_user and e["latency_ms"] >= 0 for e in lines)
    assert lines[-1]["latency_ms"] >= 1000  # it waited out retry_after
    logs = bot.logs()
    assert typed not in logs and "left hip" not in logs
    assert TOKEN not in logs and TOKEN.split(":")[1] not in logs

    # A newer program migrated the database: this one is alive but not ready.
    with sqlite3.connect(bot.db) as connection:
        connection.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    status, body = await get(port, "/readyz")
    assert status == 503 and "\n" not in body
    assert json.loads(body) == {
        "status": "not ready",
        "reason": f"the database schema is at version {len(MIGRATIONS) + 1}, "
        f"this program needs version {len(MIGRATIONS)}",
    }
    assert (await get(port, "/healthz"))[0] == 200
    with sqlite3.connect(bot.db) as connection:
        connection.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
    assert await bot.stop() == 0


async def test_webhook_settings_come_from_the_environment_and_the_ops_endpoints_sit_beside_it(
    standin, tmp_path
):
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    secret = "env-secret_1"
    bot = BotProcess(
        standin,
        tmp_path,
        PSOASBOT_WEBHOOK_URL=url,
        PSOASBOT_LISTEN="127.0.0.1",
        PSOASBOT_PORT=str(port),
        TELEGRAM_WEBHOOK_SECRET=secret,
    )
    await bot.start(wait_until_polling=False)
    await standin.wait_for(lambda: standin.webhook.get("url") == url, timeout=WAIT, what="setWebhook")
    assert not standin.polling
    assert await get(port, "/healthz") == (200, '{"status": "alive"}')
    assert await get(port, "/readyz") == (200, '{"status": "ready"}')
    update = {
        "update_id": 41,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": 778, "type": "private", "first_name": "A"},
            "from": {"id": 778, "is_bot": False, "first_name": "A"},
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }
    standin.add_user(778)
    assert await standin.deliver_to_webhook(url, update, secret_token=secret) == 200
    assert (await get(port, "/metrics"))[0] == 200
    _, text = await get(port, "/metrics")
    assert sample(text, "psoasbot_updates_total", kind="command", outcome="ok") == 1
    assert sample(text, "psoasbot_reply_latency_seconds_count") == 1
    assert await bot.stop() == 0

    # A flag still wins over the environment.
    flag_port = free_port()
    bot = BotProcess(
        standin,
        tmp_path,
        "--port",
        str(flag_port),
        PSOASBOT_WEBHOOK_URL=url,
        PSOASBOT_PORT=str(port),
        TELEGRAM_WEBHOOK_SECRET=secret,
    )
    await bot.start(wait_until_polling=False)
    listening = await eventually(
        lambda: len(log_entries(bot, "webhook listening")) == 2 and log_entries(bot, "webhook listening"),
        "the second webhook server",
    )
    assert listening[-1]["port"] == flag_port
    assert (await get(flag_port, "/healthz"))[0] == 200
    assert await bot.stop() == 0


async def test_reminders_due_sent_late_and_missed_show_in_metrics_and_one_line_per_send(standin, tmp_path):
    port = free_port()
    clock = Clock(tmp_path / "clock.txt", datetime(2026, 3, 27, 12, 0, tzinfo=UTC))
    bot = await BotProcess(
        standin, tmp_path, PSOASBOT_CLOCK_FILE=str(clock.path), PSOASBOT_METRICS_PORT=str(port)
    ).start()
    user = TelegramUser(standin)
    await set_up_reminders(user, standin)

    def session_due() -> datetime:
        return datetime.fromisoformat(
            rows(bot.db, "SELECT due_at FROM reminders WHERE kind = 'session'")[0][0]
        )

    first = session_due()
    reminder_id = rows(bot.db, "SELECT id FROM reminders WHERE kind = 'session'")[0][0]
    clock.set(first + timedelta(seconds=5))
    await standin.wait_for_message(user.chat_id, "Time for your routine", timeout=WAIT)
    sends = await eventually(lambda: log_entries(bot, "proactive send"), "the send's log line")
    assert len(sends) == 1
    assert {k: sends[0][k] for k in ("reminder", "kind", "outcome", "late_s")} == {
        "reminder": reminder_id,
        "kind": "session",
        "outcome": "sent",
        "late_s": 5.0,  # the bot's clock stands still at due + 5 s
    }
    assert sends[0]["latency_ms"] >= 0

    await eventually(lambda: session_due() > first, "the next occurrence scheduled")
    clock.set(session_due() + timedelta(hours=3))  # the bot was "down" past the grace period
    await eventually(lambda: session_due() > first + timedelta(days=1, hours=1), "the missed one claimed")
    _, text = await get(port, "/metrics")
    assert sample(text, "psoasbot_reminders_due_total", kind="session") == 2
    assert sample(text, "psoasbot_reminders_missed_total", kind="session") == 1
    assert sample(text, "psoasbot_reminders_sent_total", kind="session") == 1
    assert sample(text, "psoasbot_reminder_late_seconds_count") == 1
    assert sample(text, "psoasbot_reminder_late_seconds_sum") == 5.0
    assert sample(text, "psoasbot_reminder_late_seconds_bucket", le="5.0") == 1
    assert len(log_entries(bot, "proactive send")) == 1
    assert await bot.stop() == 0


async def test_a_second_poller_on_the_same_token_stops_with_one_line_and_the_first_carries_on(
    standin, tmp_path
):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = await BotProcess(standin, tmp_path / "a").start()
    # Let the first bot have a poll answered, as a bot that has been running would.
    polls = len(standin.calls("getUpdates"))
    await standin.wait_for(lambda: len(standin.calls("getUpdates")) > polls, timeout=WAIT, what="a poll")

    second = await BotProcess(standin, tmp_path / "b").start(wait_until_polling=False)
    assert second.process is not None
    assert await asyncio.wait_for(second.process.wait(), timeout=WAIT) == 1
    errors = [e for e in log_entries(second) if e["level"] == "error"]
    assert len(errors) == 1
    assert "another instance is polling Telegram with this bot token" in errors[0]["event"]
    assert "Traceback" not in second.logs()

    user = TelegramUser(standin)
    await user.command("/start", "Shall we start?")  # the first bot still answers
    assert first.process is not None and first.process.returncode is None
    assert rows(first.db, "SELECT COUNT(*) FROM users") == [(1,)]
    assert await first.stop() == 0


async def test_a_webhook_set_by_another_instance_stops_a_polling_bot_with_one_line(standin, tmp_path):
    bot = await BotProcess(standin, tmp_path).start()
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{standin.base_url}{TOKEN}/setWebhook", json={"url": "https://bot.example.org/hook"}
        ) as answer,
    ):
        assert answer.status == 200
    assert bot.process is not None
    assert await asyncio.wait_for(bot.process.wait(), timeout=WAIT) == 1
    errors = [e for e in log_entries(bot) if e["level"] == "error"]
    assert len(errors) == 1 and "a webhook is set for this bot token" in errors[0]["event"]


async def test_a_metrics_port_in_use_stops_start_up_with_one_line(standin, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        bot = BotProcess(standin, tmp_path, PSOASBOT_METRICS_PORT=str(port))
        with pytest.raises(Exception):  # noqa: B017 -- it never registers its commands
            await bot.start()
        assert bot.process is not None
        assert await asyncio.wait_for(bot.process.wait(), timeout=WAIT) == 1
    errors = [e for e in log_entries(bot) if e["level"] == "error"]
    assert (
        len(errors) == 1
        and f"cannot serve /healthz, /readyz and /metrics on 127.0.0.1:{port}" in (errors[0]["event"])
    )


def test_two_bots_in_one_process_keep_their_own_metrics():
    one, two = Metrics(), Metrics()
    one.updates.labels(kind="text", outcome="ok").inc()
    assert one.registry.get_sample_value("psoasbot_updates_total", {"kind": "text", "outcome": "ok"}) == 1
    assert two.registry.get_sample_value("psoasbot_updates_total", {"kind": "text", "outcome": "ok"}) is None


@pytest.mark.parametrize(
    ("make_error", "status"),
    [
        (lambda: RetryAfter(timedelta(seconds=3)), "429"),
        (lambda: Forbidden("Forbidden: bot was blocked by the user"), "403"),
        (lambda: BadRequest("Bad Request: message text is empty"), "400"),
        (lambda: Conflict("Conflict: terminated by other getUpdates request"), "409"),
        (lambda: TimedOut(), "timeout"),
        (lambda: NetworkError("Internal Server Error"), "5xx"),
        (lambda: NetworkError("Service Unavailable (503)"), "503"),
        (lambda: NetworkError("httpx.ConnectError: All connection attempts failed"), "network"),
        (lambda: NetworkError("aiohttp.ClientConnectorError: Cannot connect to host"), "network"),
    ],
)
def test_bot_api_errors_are_counted_by_http_status(make_error, status, monkeypatch):
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # as the bot runs (RetryAfter warns otherwise)
    assert bot_api_status(make_error()) == status
