"""The bot's Prometheus metrics, each bot with a registry of its own.

One `CollectorRegistry` per `Metrics` object rather than prometheus-client's global
default: several bots can then run in one process (as tests run them) without sharing
counters or colliding on names. The names and what they count are listed in README.md
(*Deployment*); keep the two in step.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

REPLY_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
"""Seconds from an update's arrival to its reply being accepted: a tap should feel instant."""
LATENESS_BUCKETS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0)
"""Seconds a reminder went out after its time: one tick is normal, minutes mean a backlog."""
CONTENT_TYPE = CONTENT_TYPE_LATEST
BACKLOG_TIMEOUT_SECONDS = 2.0
"""A scrape never waits longer than this on the database (a stuck one reads as NaN)."""


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # memory, CPU seconds, open files, start time
        self.updates = Counter(
            "psoasbot_updates",
            "Telegram updates handled, by kind (command, text, media, button, edited, membership, "
            "other) and outcome (ok, duplicate, rejected, storage_error, error).",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.reply_latency = Histogram(
            "psoasbot_reply_latency_seconds",
            "From an update reaching the bot to the Bot API accepting its last reply.",
            buckets=REPLY_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.reminders_due = Counter(
            "psoasbot_reminders_due",
            "Reminders and check-ins that came due, by kind (session, snooze, weekly_checkin, "
            "day_after_checkin), including those missed while the bot was down.",
            ["kind"],
            registry=self.registry,
        )
        self.reminders_missed = Counter(
            "psoasbot_reminders_missed",
            "Reminders and check-ins not sent because they were found more than two hours late.",
            ["kind"],
            registry=self.registry,
        )
        self.reminders_sent = Counter(
            "psoasbot_reminders_sent",
            "Reminder and check-in messages the Bot API accepted, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.reminder_lateness = Histogram(
            "psoasbot_reminder_late_seconds",
            "How long after its time a reminder or check-in message was accepted by the Bot API.",
            buckets=LATENESS_BUCKETS,
            registry=self.registry,
        )
        self.outbox_backlog = Gauge(
            "psoasbot_outbox_backlog",
            "Replies and reminders stored but not yet sent, read from the database at scrape time.",
            registry=self.registry,
        )
        self.errors = Counter(
            "psoasbot_errors",
            "Errors by kind: storage, bot_api (status: the HTTP status, or timeout or network), "
            "rejected_input (stale or forged buttons).",
            ["kind", "status"],
            registry=self.registry,
        )
        self._backlog: Callable[[], Awaitable[int]] | None = None

    def read_backlog_with(self, count: Callable[[], Awaitable[int]]) -> None:
        """How to count the outbox backlog; it is read on every scrape, not kept up to date."""
        self._backlog = count

    async def exposition(self) -> bytes:
        """The text Prometheus scrapes, with the backlog read now."""
        if self._backlog is not None:
            try:
                self.outbox_backlog.set(await asyncio.wait_for(self._backlog(), BACKLOG_TIMEOUT_SECONDS))
            except Exception:
                # The scrape still answers (the other figures are good); NaN says "unknown"
                # rather than repeating a stale count, and the failure is counted.
                self.outbox_backlog.set(math.nan)
                self.errors.labels(kind="storage", status="").inc()
        return generate_latest(self.registry)
