"""One instance against three, in webhook mode on one PostgreSQL database, behind a round-robin
balancer, measured side by side in one run:

- conversations: `users` people at once, each sending its next message as soon as the last
  was answered (/check, "yes", "front of my hip", "nowhere", again and again), posted as
  Telegram would to the balancer; the webhook answers once the step is stored and its replies
  are sent, so the POST's round trip is the reply latency. Updates/s and p95.
- reminders with the broadcast limit lifted (1000/s): `due` reminders fall due at once;
  how many per second reach the stand-in until all have.

Real `psoasbot run` processes (tests/postgres_cluster.py), the Bot API stand-in, a private
PostgreSQL server (tests/postgres_server.py).

  python -m bench.db_instances [--seconds 15] [--users 40] [--due 2000]

Prints one JSON object; `python -m bench.run --only db` runs it with the other database figures.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import latency_summary

SCRIPT = ("/check", "yes", "front of my hip", "nowhere")
FIRST_CHAT = 900_000


def update(update_id: int, chat: int, text: str) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": update_id,
        "date": int(time.time()),
        "chat": {"id": chat, "type": "private", "first_name": "B"},
        "from": {"id": chat, "is_bot": False, "first_name": "B"},
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text)}]
    return {"update_id": update_id, "message": message}


async def conversations(url: str, secret: str, users: int, seconds: float, first: int) -> dict[str, Any]:
    ids = itertools.count(first)
    latencies: list[float] = []
    failed = 0
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret}

    async def person(n: int, session: aiohttp.ClientSession, until: float, record: bool) -> None:
        nonlocal failed
        chat = FIRST_CHAT + n
        for text in itertools.cycle(SCRIPT):
            if time.monotonic() >= until:
                return
            began = time.monotonic()
            async with session.post(url, json=update(next(ids), chat, text), headers=headers) as response:
                ok = response.status == 200
            if record:
                latencies.append(time.monotonic() - began) if ok else None
                failed += 0 if ok else 1

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        await asyncio.gather(*(person(n, session, time.monotonic() + 3, False) for n in range(users)))
        t0 = time.monotonic()
        await asyncio.gather(*(person(n, session, t0 + seconds, True) for n in range(users)))
        elapsed = time.monotonic() - t0
    summary = latency_summary(latencies)
    return {"updates_per_s": len(latencies) / elapsed, "failed": failed, "latency": summary}


async def reminders(standin: Any, dsn: str, due: int) -> dict[str, Any]:
    from tests.test_postgres_instances import seed_due_reminders

    chats = [FIRST_CHAT + 100_000 + n for n in range(due)]
    for chat in chats:
        standin.add_user(chat)
    mark = standin.mark()

    def sent() -> list[float]:
        return [
            call.time
            for call in standin.calls("sendMessage")
            if call.seq > mark and call.status == 200 and "Time for your routine" in str(call.params)
        ]

    t0 = time.monotonic()
    await seed_due_reminders(dsn, chats)
    while len(sent()) < due and time.monotonic() - t0 < 120:
        await asyncio.sleep(0.2)
    times = sent()
    span = (max(times) - min(times)) if len(times) > 1 else float("nan")
    return {"due": due, "sent": len(times), "per_s": len(times) / span if span else None, "seconds": span}


async def measure(seconds: float, users: int, due: int) -> dict[str, Any]:
    from tests.postgres_cluster import SECRET, Cluster
    from tests.postgres_server import PostgresServer, drop_database, fresh_database
    from tests.telegram_support import new_standin

    results: dict[str, Any] = {}
    work = Path(tempfile.mkdtemp(prefix="psoasbot-bench-db-"))
    try:
        with PostgresServer() as server:
            for count in (1, 3):
                async with new_standin() as standin:
                    for n in range(users):
                        standin.add_user(FIRST_CHAT + n)
                    dsn = fresh_database(server.dsn)
                    folder = work / f"x{count}"
                    folder.mkdir()
                    cluster = Cluster(
                        standin,
                        folder,
                        dsn,
                        count,
                        PSOASBOT_BROADCAST_PER_SECOND="1000",
                        PSOASBOT_OUTBOX_LEASE_SECONDS="30",
                        PSOASBOT_LOG_LEVEL="WARNING",
                    )
                    await cluster.start()
                    try:
                        talk = await conversations(cluster.balancer.url, SECRET, users, seconds, 1)
                        sends = await reminders(standin, dsn, due)
                    finally:
                        await cluster.stop()
                    drop_database(server.dsn, dsn)
                    results[f"{count}_instances"] = {"conversations": talk, "reminders": sends}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--due", type=int, default=2000)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(measure(args.seconds, args.users, args.due))))


if __name__ == "__main__":
    main()
