"""What the bot did, as metrics and as one log line each: per update, per proactive send.

Log lines carry ids, kinds, timings and outcomes: the update id, the user's id as stored
in the database (never a Telegram name), never what anyone typed and never the token.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from bot.ops.metrics import Metrics
from bot.ops.trace import UpdateTrace

updates_log = logging.getLogger("psoasbot.updates")
proactive_log = logging.getLogger("psoasbot.proactive")


class Clock(Protocol):
    def now(self) -> datetime: ...


class Telemetry:
    def __init__(self, metrics: Metrics, clock: Clock) -> None:
        self.metrics = metrics
        self.clock = clock
        """The reminders' clock: lateness is measured on the clock that made them due."""

    def update_handled(self, trace: UpdateTrace) -> None:
        done = time.monotonic()
        self.metrics.updates.labels(kind=trace.kind, outcome=trace.outcome).inc()
        if trace.replied is not None:
            self.metrics.reply_latency.observe(max(0.0, trace.replied - trace.received))
        if trace.outcome == "rejected":
            self.metrics.errors.labels(kind="rejected_input", status="").inc()
        elif trace.outcome == "storage_error":
            self.metrics.errors.labels(kind="storage", status="").inc()
        updates_log.info(
            "update",
            extra={
                "update": trace.update_id,
                "kind": trace.kind,
                "user": trace.user,
                "latency_ms": round((done - trace.received) * 1000, 1),
                "outcome": trace.outcome,
            },
        )

    def reminder_due(self, kind: str, late_seconds: float, missed: bool) -> None:
        self.metrics.reminders_due.labels(kind=kind).inc()
        if missed:
            self.metrics.reminders_missed.labels(kind=kind).inc()

    def proactive_sent(self, context: Mapping[str, Any], outcome: str, seconds: float) -> None:
        """One reminder or check-in message left the outbox: `outcome` is sent, refused
        (Telegram answered 400), blocked (403) or failed (still unreachable after retries)."""
        kind = str(context.get("reminder_kind") or "other")
        late: float | None = None
        due_at = context.get("due_at")
        if outcome == "sent":
            self.metrics.reminders_sent.labels(kind=kind).inc()
            if isinstance(due_at, str):
                late = max(0.0, (self.clock.now() - datetime.fromisoformat(due_at)).total_seconds())
                self.metrics.reminder_lateness.observe(late)
        proactive_log.info(
            "proactive send",
            extra={
                "reminder": context.get("reminder"),
                "checkin": context.get("checkin"),
                "kind": kind,
                "latency_ms": round(seconds * 1000, 1),
                "late_s": None if late is None else round(late, 1),
                "outcome": outcome,
            },
        )

    def bot_api_error(self, status: str) -> None:
        self.metrics.errors.labels(kind="bot_api", status=status).inc()

    def storage_error(self) -> None:
        self.metrics.errors.labels(kind="storage", status="").inc()
