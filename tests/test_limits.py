"""The broadcast limiter: reminders leave at Telegram's rate and never faster; replies never wait."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

from bot.adapters.telegram.limits import BROADCAST, BroadcastLimiter


class Recorder:
    """Stands in for a Bot API call: takes a little time, notes when Telegram 'received' it."""

    def __init__(self, latency: float = 0.002) -> None:
        self.latency = latency
        self.arrivals: list[tuple[float, Any]] = []

    async def call(self, chat_id: Any) -> dict[str, Any]:
        await asyncio.sleep(self.latency / 2)
        self.arrivals.append((time.monotonic(), chat_id))
        await asyncio.sleep(self.latency / 2)
        return {"ok": True}


async def send(limiter: BroadcastLimiter, recorder: Recorder, chat_id: Any, marked: bool = True) -> Any:
    return await limiter.process_request(
        recorder.call, (chat_id,), {}, "sendMessage", {"chat_id": chat_id}, BROADCAST if marked else None
    )


def most_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def test_a_backlog_leaves_evenly_at_the_set_rate_and_never_faster():
    limiter, recorder = BroadcastLimiter(per_second=25), Recorder()
    await asyncio.gather(*(send(limiter, recorder, chat) for chat in range(50)))
    arrivals = sorted(moment for moment, _ in recorder.arrivals)
    assert len(arrivals) == 50
    assert most_in_any_window(arrivals, 1.0) <= 25  # no first-second burst of a full bucket
    rate = 49 / (arrivals[-1] - arrivals[0])
    assert 0.95 * 25 <= rate <= 25.0
    assert most_in_any_window(arrivals, 0.2) <= 6  # spaced out, never bunched (5 per 0.2 s, plus jitter)


async def test_one_chat_gets_at_most_one_proactive_message_per_interval():
    limiter, recorder = BroadcastLimiter(per_second=100, per_chat_seconds=0.3), Recorder()
    await asyncio.gather(
        *(send(limiter, recorder, "same") for _ in range(4)), send(limiter, recorder, "other")
    )
    same = sorted(moment for moment, chat in recorder.arrivals if chat == "same")
    assert len(same) == 4
    assert all(later - earlier >= 0.29 for earlier, later in itertools.pairwise(same))
    other = [moment for moment, chat in recorder.arrivals if chat == "other"]
    assert other[0] - same[0] < 0.1  # another chat does not wait behind it


async def test_replies_to_a_user_go_out_at_once_even_behind_a_broadcast_backlog():
    limiter, recorder = BroadcastLimiter(per_second=5), Recorder()
    backlog = asyncio.gather(*(send(limiter, recorder, chat) for chat in range(15)))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await send(limiter, recorder, "someone typing", marked=False)
    assert time.monotonic() - started < 0.1
    backlog.cancel()
    await asyncio.gather(backlog, return_exceptions=True)


async def test_a_failed_send_frees_its_slot_and_the_error_reaches_the_caller():
    limiter = BroadcastLimiter(per_second=2)

    async def failing(chat_id: Any) -> dict[str, Any]:
        raise ConnectionError("telegram unreachable")

    results = await asyncio.gather(
        *(
            limiter.process_request(failing, (n,), {}, "sendMessage", {"chat_id": n}, BROADCAST)
            for n in range(3)
        ),
        return_exceptions=True,
    )
    assert all(isinstance(result, ConnectionError) for result in results)
    assert limiter._in_flight == 0 and not limiter._chat_turns
