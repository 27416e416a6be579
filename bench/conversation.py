"""Figure 1: whole checks through the real Telegram front, against the local stand-in.

Simulated users live in this process beside the stand-in; each waits for the
reply to its last input before its next one, as a person does. Two latencies
are taken per update:
- fetched -> reply: from the moment getUpdates handed the update to the bot to
  the arrival of the bot call that completes the reply (the issue's definition);
- pushed -> reply: from the moment the user acted, so time the update waited in
  Telegram's queue while the bot was busy is included (what the person feels).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from bench.common import cpu_seconds, latency_summary, main_thread_share, thread_cpu_seconds
from bench.harness import BotUnderTest, MeasuredStandIn
from tests.standin import Call
from tests.telegram_support import TYPICAL_TAPS

Expect = Callable[[str, int], bool]


@dataclass(frozen=True)
class Step:
    kind: str  # "text" or "press"
    payload: str  # the text typed, or the label of the button pressed
    expect: Expect  # (text of the message the bot sent or edited, update id) -> is this the reply?


def _contains(fragment: str) -> Expect:
    return lambda text, _update: fragment in text


# The typical self-care check of tests/telegram_support.py: /start and 15 taps. The last tap shows
# the result and then the routine (one message): the reply is complete when the routine arrives.
PSOASBOT_SCRIPT: list[Step] = [
    Step("text", "/start", _contains("Shall we start?")),
    *(Step("press", label, _contains(expect)) for label, expect in TYPICAL_TAPS[:-1]),
    Step("press", TYPICAL_TAPS[-1][0], _contains("Here is a routine")),
]


def _floor_reply(text: str, update_id: int) -> bool:
    return text.startswith(f"Question {update_id}.")


FLOOR_SCRIPT: list[Step] = [Step("text", "/start", _floor_reply)] + [
    Step("press", "Option 0", _floor_reply) for _ in range(len(PSOASBOT_SCRIPT) - 1)
]


class Stuck(RuntimeError):
    pass


@dataclass
class Tally:
    fetched_to_reply: list[float] = field(default_factory=list)
    pushed_to_reply: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    replied: int = 0


class SimUser:
    """One person in a private chat, walking a script step by step."""

    def __init__(self, harness: MeasuredStandIn, chat_id: int, script: list[Step], tally: Tally) -> None:
        self.harness = harness
        self.chat_id = chat_id
        self.script = script
        self.tally = tally
        self.position = 0
        self.message: dict[str, Any] | None = None
        self._waiting: asyncio.Future[Call] | None = None
        self._expect: Expect | None = None
        self._update_id = -1
        harness.listeners[chat_id] = self._on_call

    def _on_call(self, call: Call) -> None:
        if call.status != 200:
            self.tally.errors.append(f"{call.method} {call.status} {call.error}")
            return
        future = self._waiting
        if future is None or future.done() or self._expect is None:
            return
        result = call.result
        if isinstance(result, dict) and self._expect(str(result.get("text") or ""), self._update_id):
            future.set_result(call)

    async def _act(self, step: Step) -> int:
        standin = self.harness.standin
        if step.kind == "text":
            return await standin.push_text(self.chat_id, step.payload)
        message = self.message
        if message is None:
            raise Stuck(f"chat {self.chat_id}: no message to press {step.payload!r} on")
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        buttons = [(b.get("text", ""), b.get("callback_data")) for row in rows for b in row]
        data = next((d for t, d in buttons if t == step.payload), None) or next(
            (d for t, d in buttons if step.payload in t), None
        )
        if data is None:
            raise Stuck(f"chat {self.chat_id}: no button {step.payload!r} in {[t for t, _ in buttons]}")
        await standin.press_button(self.chat_id, int(message["message_id"]), data)
        return self.harness.world.last_update_id

    def _recent_calls(self) -> list[str]:
        calls = [c for c in self.harness.world.calls if str(c.params.get("chat_id")) == str(self.chat_id)]
        return [
            f"{c.method} {c.status} {str((c.result or {}).get('text') if isinstance(c.result, dict) else '')[:50]!r}"
            for c in calls[-4:]
        ]

    async def step(self, timeout: float) -> None:
        """Do the next step of the script (wrapping round to the start) and wait for the reply."""
        step = self.script[self.position]
        loop = asyncio.get_running_loop()
        self._waiting = loop.create_future()
        self._expect = step.expect
        pushed = time.monotonic()
        self._update_id = await self._act(step)
        try:
            call = await asyncio.wait_for(self._waiting, timeout)
        except TimeoutError:
            raise TimeoutError(
                f"chat {self.chat_id}: no reply to step {self.position} ({step.payload!r}) "
                f"in {timeout}s; last calls: {self._recent_calls()}"
            ) from None
        finally:
            self._expect = None
        self.message = call.result
        fetched = self.harness.handed_out.get(self._update_id)
        if fetched is not None:
            self.tally.fetched_to_reply.append(call.time - fetched)
        self.tally.pushed_to_reply.append(call.time - pushed)
        self.tally.replied += 1
        self.position = (self.position + 1) % len(self.script)


async def closed_loop(
    harness: MeasuredStandIn,
    bot: BotUnderTest,
    script: list[Step],
    users: int,
    *,
    first_chat: int,
    step_timeout: float = 300.0,
    window: float | None = None,
) -> dict[str, Any]:
    """Every user walks the whole script once, all at the same time.

    With `window`, measuring stops after that many seconds: replies that arrived by then
    count, steps still waiting are left unfinished (the caller stops the bot).
    """
    harness.forget_history()
    tally = Tally()
    people = [SimUser(harness, first_chat + i, script, tally) for i in range(users)]
    for person in people:
        harness.standin.add_user(person.chat_id)
    first_steps = 0

    async def walk(person: SimUser) -> None:
        nonlocal first_steps
        for index in range(len(script)):
            await person.step(step_timeout)
            first_steps += index == 0

    threads0 = thread_cpu_seconds(bot.pid)
    cpu_bot, cpu_self = bot.cpu(), cpu_seconds()
    started = time.monotonic()
    walks = [asyncio.ensure_future(walk(person)) for person in people]
    done, pending = await asyncio.wait(walks, timeout=window)
    elapsed = time.monotonic() - started
    cpu_bot, cpu_self = bot.cpu() - cpu_bot, cpu_seconds() - cpu_self
    threads = main_thread_share(threads0, thread_cpu_seconds(bot.pid), bot.pid)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
    for task in done:
        task.result()  # a failed walk (wrong reply, timeout) fails the figure
    for person in people:
        harness.listeners.pop(person.chat_id, None)
    updates = tally.replied
    return {
        "users": users,
        "window_s": window,
        "checks_completed": sum(1 for task in done if not task.cancelled()),
        "updates": updates,
        "first_step_share": first_steps / updates if updates else None,
        "seconds": elapsed,
        "updates_per_s": updates / elapsed,
        "bot_cpu_s": cpu_bot,
        "bot_cpu_ms_per_update": cpu_bot / updates * 1000 if updates else float("nan"),
        "bot_cpu_utilisation": cpu_bot / elapsed,
        **{f"bot_{key}": value for key, value in threads.items()},
        "harness_cpu_utilisation": cpu_self / elapsed,
        "calls_per_update": _calls(harness) / updates if updates else None,
        "fetched_to_reply": latency_summary(tally.fetched_to_reply),
        "pushed_to_reply": latency_summary(tally.pushed_to_reply),
        "errors": len(tally.errors),
        "error_sample": tally.errors[:5],
    }


def _calls(harness: MeasuredStandIn) -> int:
    """Bot API calls other than getUpdates since the call log was last cleared."""
    return sum(n for method, n in harness.counts.items() if method != "getUpdates")


async def open_loop(
    harness: MeasuredStandIn,
    bot: BotUnderTest,
    script: list[Step],
    users: int,
    rate: float,
    seconds: float,
    *,
    first_chat: int,
    drain_timeout: float = 30.0,
) -> dict[str, Any]:
    """Offer `rate` updates per second for `seconds`, each from a user whose last reply has arrived.

    Users cycle through the script (the last step of a check leads back to /start), so the
    population keeps answering for as long as the run lasts. The next update comes from the user
    whose reply arrived last (a stack), so only as many users are active as the load needs and
    each of them walks through whole checks: the mix of updates is that of real checks rather
    than a crowd of /starts. Replies still missing
    `drain_timeout` seconds after offering stopped count as not replied (an infinite latency in
    the percentiles); the caller stops the bot afterwards.
    """
    harness.forget_history()
    tally = Tally()
    people = [SimUser(harness, first_chat + i, script, tally) for i in range(users)]
    for person in people:
        harness.standin.add_user(person.chat_id)
    idle: deque[SimUser] = deque(people)
    running: set[asyncio.Task[None]] = set()
    offered = skipped = first_steps = 0

    async def one(person: SimUser) -> None:
        await person.step(seconds + drain_timeout + 60.0)
        idle.append(person)

    cpu_bot, cpu_self = bot.cpu(), cpu_seconds()
    started = time.monotonic()
    interval = 1.0 / rate
    for k in range(int(rate * seconds)):
        delay = started + k * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if not idle:
            skipped += 1
            continue
        offered += 1
        person = idle.pop()
        first_steps += person.position == 0
        task = asyncio.ensure_future(one(person))
        running.add(task)
        task.add_done_callback(running.discard)
    offering_time = time.monotonic() - started
    pending: set[asyncio.Task[None]] = set()
    if running:
        _, pending = await asyncio.wait(set(running), timeout=drain_timeout)
    elapsed = time.monotonic() - started
    cpu_bot, cpu_self = bot.cpu() - cpu_bot, cpu_seconds() - cpu_self
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
    for person in people:
        harness.listeners.pop(person.chat_id, None)
    missing = [math.inf] * len(pending)
    return {
        "users": users,
        "rate_target_per_s": rate,
        "seconds_offering": offering_time,
        "drain_timeout_s": drain_timeout,
        "offered": offered,
        "offered_per_s": offered / offering_time,
        "skipped_no_idle_user": skipped,
        "first_step_share": first_steps / offered if offered else None,
        "users_used": sum(1 for person in people if person.position or person.message is not None),
        "replied": tally.replied,
        "not_replied_in_time": len(pending),
        "replied_per_s": tally.replied / elapsed,
        "bot_cpu_ms_per_update": (cpu_bot / tally.replied * 1000) if tally.replied else float("nan"),
        "bot_cpu_utilisation": cpu_bot / elapsed,
        "harness_cpu_utilisation": cpu_self / elapsed,
        "fetched_to_reply": latency_summary(tally.fetched_to_reply + missing),
        "pushed_to_reply": latency_summary(tally.pushed_to_reply + missing),
        "errors": len(tally.errors),
        "error_sample": tally.errors[:5],
    }


async def warm_up(harness: MeasuredStandIn, bot: BotUnderTest, script: list[Step], first_chat: int) -> None:
    """A few users through the whole script, so the first measured updates pay no one-off costs."""
    await closed_loop(harness, bot, script, 10, first_chat=first_chat, step_timeout=60.0)


Runner = Callable[[], Awaitable[dict[str, Any]]]
