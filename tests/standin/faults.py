"""Fault injection: make chosen calls fail or hang the way Telegram sometimes does.

Why: the bot must survive a user who blocked it (403), flood control (429 with retry_after),
Telegram's own hiccups (500/502) and slow answers (timeouts). Each injection records when it
was hit, so a test can assert *how* the bot reacted (e.g. it waited ``retry_after`` seconds
before retrying), not only that it did not crash.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError, default_description


def _matches(wanted_method: str, wanted_chat: int | None, method: str, chat_id: Any) -> bool:
    """``"*"`` matches every method; method names are case-insensitive, as on Telegram."""
    if wanted_method != "*" and wanted_method.lower() != method.lower():
        return False
    return wanted_chat is None or str(wanted_chat) == str(chat_id)


@dataclass
class Injection:
    """An error answered instead of the real result, ``times`` times (``None``: until removed)."""

    method: str
    error_code: int
    description: str
    times: int | None = 1
    chat_id: int | None = None
    parameters: dict[str, Any] | None = None
    hit_times: list[float] = field(default_factory=list)  # time.monotonic() of each hit

    @property
    def hits(self) -> int:
        return len(self.hit_times)

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times

    @property
    def retry_after(self) -> int | None:
        return (self.parameters or {}).get("retry_after")

    def applies_to(self, method: str, chat_id: Any) -> bool:
        return not self.exhausted and _matches(self.method, self.chat_id, method, chat_id)

    def fire(self) -> ApiError:
        self.hit_times.append(time.monotonic())
        return ApiError(self.error_code, self.description, self.parameters)


@dataclass
class DelayInjection:
    """Hang ``seconds`` before (``when="before"``) or after (``"after"``) doing the work.

    "after" models the nasty case: Telegram delivered the message but the bot timed out
    waiting for the answer, so a naive retry sends it twice.
    """

    method: str
    seconds: float
    times: int | None = 1
    chat_id: int | None = None
    when: str = "before"
    hit_times: list[float] = field(default_factory=list)

    @property
    def hits(self) -> int:
        return len(self.hit_times)

    @property
    def exhausted(self) -> bool:
        return self.times is not None and self.hits >= self.times

    def applies_to(self, method: str, chat_id: Any) -> bool:
        return not self.exhausted and _matches(self.method, self.chat_id, method, chat_id)


class FaultPlan:
    """The armed injections, consulted by the HTTP layer on every request."""

    def __init__(self) -> None:
        self.errors: list[Injection] = []
        self.delays: list[DelayInjection] = []

    def add_error(
        self,
        method: str,
        error_code: int,
        description: str | None,
        times: int | None,
        chat_id: int | None,
        retry_after: int | None,
    ) -> Injection:
        parameters = None
        if error_code == 429:
            retry_after = retry_after if retry_after is not None else 1
            parameters = {"retry_after": retry_after}
        injection = Injection(
            method=method,
            error_code=error_code,
            description=description or default_description(error_code, retry_after),
            times=times,
            chat_id=chat_id,
            parameters=parameters,
        )
        self.errors.append(injection)
        return injection

    def add_delay(self, delay: DelayInjection) -> DelayInjection:
        self.delays.append(delay)
        return delay

    def take_error(self, method: str, chat_id: Any) -> ApiError | None:
        """The error to answer with, consuming one use of the first matching injection."""
        for injection in self.errors:
            if injection.applies_to(method, chat_id):
                return injection.fire()
        return None

    def take_delay(self, method: str, chat_id: Any) -> DelayInjection | None:
        for delay in self.delays:
            if delay.applies_to(method, chat_id):
                delay.hit_times.append(time.monotonic())
                return delay
        return None

    def clear(self) -> None:
        self.errors.clear()
        self.delays.clear()
