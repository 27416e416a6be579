"""The update being handled now, so that code deep in a handler can say how it went.

The front knows an update's outcome (stored, a duplicate, a rejected button, a storage
error) and the stored user id; the runner knows when the update arrived; the Bot API
layer knows when a reply was accepted. A context variable carries one mutable
`UpdateTrace` through all three without threading a parameter through every handler:
python-telegram-bot awaits a handler in the task that processes its update, so the
variable set around that call is the one every layer below it sees. Outside an update
(a reminder sent by the scheduler) there is no trace, and the notes are no-ops.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

Outcome = Literal["ok", "duplicate", "rejected", "storage_error", "error"]
_SEVERITY: dict[Outcome, int] = {"ok": 0, "duplicate": 1, "rejected": 2, "storage_error": 3, "error": 4}


@dataclass
class UpdateTrace:
    update_id: int
    kind: str
    received: float
    """time.monotonic() when the update reached this process."""
    outcome: Outcome = "ok"
    user: int | None = None
    """The user's id as stored in the database (never a Telegram name)."""
    replied: float | None = None
    """time.monotonic() when the Bot API last accepted a call made for this update."""
    redeliver: bool = False
    """Nothing of the update was stored because the database was briefly unavailable (a
    restart, a lost connection): the transport should have Telegram deliver it again rather
    than confirm it (the webhook answers 503, polling asks for the same offset again)."""


CURRENT: ContextVar[UpdateTrace | None] = ContextVar("psoasbot_update_trace", default=None)


def note_outcome(outcome: Outcome) -> None:
    """Record how the current update went; the most serious outcome noted wins."""
    trace = CURRENT.get()
    if trace is not None and _SEVERITY[outcome] > _SEVERITY[trace.outcome]:
        trace.outcome = outcome


def ask_redelivery() -> bool:
    """Mark the current update for redelivery; False outside an update (nobody to ask)."""
    trace = CURRENT.get()
    if trace is None:
        return False
    trace.redeliver = True
    return True


def note_user(user_id: int | None) -> None:
    trace = CURRENT.get()
    if trace is not None and user_id is not None:
        trace.user = user_id


def note_reply_accepted() -> None:
    trace = CURRENT.get()
    if trace is not None:
        trace.replied = time.monotonic()
