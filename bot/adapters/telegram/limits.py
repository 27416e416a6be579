"""Pacing of proactive messages (reminders, check-ins) to Telegram's broadcast limits.

Telegram's limits for bots (core.telegram.org/bots/faq): about 30 messages per
second when sending bulk notifications to many users, and no more than about
one message per second to one chat. Paid broadcasts lift the overall figure to
up to 1,000 per second.

What is paced, and why:
- Proactive messages, the ones the scheduler sends without the user having
  just written (reminders, morning-after and weekly check-ins), are the bulk
  notifications Telegram's limit is about. They pass through
  `BroadcastLimiter.pace`: at most `per_second` in any one-second window, and
  at least `per_chat_seconds` between two to the same chat.
- Replies to what a user just did (a button press, a message, a command) go
  out at once. Throttling them behind a reminder backlog would leave the person
  in front of their phone waiting seconds for the next question, and Telegram
  does not count interactive replies against the broadcast figure the way it
  counts bulk sends. PTB's AIORateLimiter counts every call that names a chat,
  edits and callback answers included, which capped the whole bot at about 30
  updates per second; hence this limiter instead of it.

Sends are spaced evenly (1/30 s apart at 30/s) rather than let through in
bursts, and on top of that the one-second window counts a send from the moment
Telegram has answered it, so the figure holds where Telegram measures it: the
31st send starts a full second after the 1st was received, whatever the
network did in between. (A plain token bucket such as aiolimiter's, which PTB's
AIORateLimiter uses, lets a full bucket through at once and then refills it:
up to twice the rate in the first second.)

Several instances of one bot share Telegram's limit, so the spacing is shared too
(`share_pace`): before each proactive send, an instance takes the next start from
one row in the database (bot/core/ports.py: BroadcastStore), which moves on by the
spacing each time anyone takes one. Starts are then evenly spaced across all
instances together, and the total stays under `per_second` however many run. Each
instance waits for at most one shared start at a time (the claim is made in turn,
under the same lock as the local slot), so a large backlog never books starts far
ahead, and a crashed instance wastes at most one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from telegram.ext import BaseRateLimiter

BROADCAST = {"broadcast": True}
"""The `rate_limit_args` that mark a Bot API call as a proactive message."""

HEADROOM = 0.985
"""Sends are spaced for 98.5 % of the limit, so the event loop waking a few milliseconds
early or late never makes a measured second come out over it."""
SHARED_HEADROOM = 0.95
"""The pace shared by several instances is spaced for 95 % of the limit: an instance counts
its own sends from Telegram's answers, but not the others', so the starts are all the shared
pace can space, and sends from different processes reach Telegram a little earlier or later
than they started (one process busier than another). 5 % leaves about 50 ms a second for that."""

JSONResult = bool | dict[str, Any] | list[dict[str, Any]]
SharedPace = Callable[[float], Awaitable[float]]
"""Takes the next shared start `spacing` seconds after the last one; seconds to wait for it."""
SHARED_RETRY_SECONDS = 0.5

log = logging.getLogger("psoasbot.telegram.limits")


class BroadcastLimiter(BaseRateLimiter[dict[str, Any]]):
    """Paces calls marked with `rate_limit_args=BROADCAST`; lets every other call through."""

    def __init__(self, per_second: float = 30.0, per_chat_seconds: float = 1.0) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self.window = 1.0
        self.slots = max(1, int(per_second))
        if per_second < 1:  # e.g. 0.5/s: one send per two seconds
            self.window = 1.0 / per_second
        self.per_chat_seconds = per_chat_seconds
        self._clock = time.monotonic
        self._finished: deque[float] = deque()
        self._in_flight = 0
        self._next_start = 0.0
        self._turn = asyncio.Lock()
        self._freed = asyncio.Event()
        self._last_to_chat: dict[object, float] = {}
        self._chat_turns: dict[object, asyncio.Lock] = {}
        self._chat_waiting: dict[object, int] = {}
        self._shared: SharedPace | None = None

    @property
    def spacing(self) -> float:
        """Seconds between two starts at the configured rate (with the headroom)."""
        return self.window / (self.slots * HEADROOM)

    def share_pace(self, claim: SharedPace | None) -> None:
        """Space sends across every instance on one database (see the module docstring)."""
        self._shared = claim

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSONResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: dict[str, Any] | None,
    ) -> JSONResult:
        if not rate_limit_args or not rate_limit_args.get("broadcast"):
            return await callback(*args, **kwargs)
        return await self.pace(data.get("chat_id"), lambda: callback(*args, **kwargs))

    async def pace(self, chat_id: object, send: Callable[[], Coroutine[Any, Any, JSONResult]]) -> JSONResult:
        """Run one proactive send when both the overall and the per-chat limit allow it."""
        chat_turn = self._chat_turns.setdefault(chat_id, asyncio.Lock())
        self._chat_waiting[chat_id] = self._chat_waiting.get(chat_id, 0) + 1
        try:
            async with chat_turn:
                await self._wait_for_chat(chat_id)
                await self._take_slot()
                try:
                    return await send()
                finally:
                    finished = self._clock()
                    self._in_flight -= 1
                    self._finished.append(finished)
                    self._last_to_chat[chat_id] = finished
                    self._freed.set()
        finally:
            self._chat_waiting[chat_id] -= 1
            if self._chat_waiting[chat_id] == 0:  # drop the chat's lock only when nobody waits on it
                del self._chat_waiting[chat_id]
                del self._chat_turns[chat_id]
            self._forget_old_chats()

    async def _wait_for_chat(self, chat_id: object) -> None:
        last = self._last_to_chat.get(chat_id)
        if last is not None:
            wait = last + self.per_chat_seconds - self._clock()
            if wait > 0:
                await asyncio.sleep(wait)

    async def _take_slot(self) -> None:
        """First come, first served: waiters queue on one lock and take slots in order."""
        async with self._turn:
            while True:
                now = self._clock()
                while self._finished and self._finished[0] <= now - self.window:
                    self._finished.popleft()
                if self._next_start > now:  # evenly spaced, not a burst and then a pause
                    await asyncio.sleep(self._next_start - now)
                    continue
                if len(self._finished) + self._in_flight < self.slots:
                    self._in_flight += 1
                    spacing = self.window / (self.slots * HEADROOM)
                    # From the planned moment, not from now, while a backlog is going out: the
                    # event loop wakes a little late each time, and that must not add up.
                    on_schedule = now - self._next_start < spacing
                    self._next_start = (self._next_start if on_schedule else now) + spacing
                    if self._shared is not None:
                        await self._wait_for_shared_start(self.window / (self.slots * SHARED_HEADROOM))
                    return
                self._freed.clear()
                if self._finished:
                    wait = self._finished[0] + self.window - now
                    await asyncio.sleep(max(wait, 0.0))
                else:  # every slot is a send still waiting for Telegram's answer
                    await self._freed.wait()

    async def _wait_for_shared_start(self, spacing: float) -> None:
        """Take the next start every instance shares and wait for it. While the database
        cannot be asked (it is restarting), nothing is sent: going on without the shared
        pace could take the instances together over the limit."""
        assert self._shared is not None
        while True:
            try:
                wait = await self._shared(spacing)
                break
            except Exception as error:
                log.warning("cannot take a shared broadcast start; waiting", extra={"error": str(error)})
                await asyncio.sleep(SHARED_RETRY_SECONDS)
        if wait > 0:
            await asyncio.sleep(wait)

    def _forget_old_chats(self) -> None:
        if len(self._last_to_chat) < 4096:
            return
        horizon = self._clock() - self.per_chat_seconds
        for chat_id in [chat for chat, at in self._last_to_chat.items() if at <= horizon]:
            del self._last_to_chat[chat_id]
