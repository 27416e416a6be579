"""Faults on PostgreSQL with real processes: three bot instances in webhook mode on one
database behind a round-robin balancer, the Bot API stand-in playing Telegram.

- One instance SIGKILLed at random moments and restarted while several people tap through
  checks: nothing lost, nothing applied twice, no reply shown twice beyond the one
  documented window (a kill between Telegram accepting a message and the bot marking it sent).
- PostgreSQL itself restarted mid-load: the instances reconnect by themselves, and updates
  answered with a non-200 meanwhile are delivered again and applied once.
- A pool of one connection and many people at once: inputs wait their turn, nobody sees an error.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import psycopg
import pytest

from tests.postgres_cluster import running_cluster, walk_typical_check
from tests.postgres_server import PostgresServer
from tests.telegram_support import TYPICAL_TAPS, BotProcess, TelegramUser, new_standin

pytestmark = pytest.mark.faults

RESULT = "This looks suitable for self-care"
STORAGE_ERROR = "couldn't save that"


@pytest.fixture()
async def standin():
    async with new_standin() as running:
        yield running


def database_rows(dsn: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(dsn) as connection:
        return connection.execute(sql).fetchall()


def assert_all_applied_once(dsn: str, users: list[TelegramUser]) -> None:
    steps = len(TYPICAL_TAPS) + 1
    assert database_rows(dsn, "SELECT state, count(*) FROM conversations GROUP BY state") == [
        ("result", len(users))
    ]
    # Every update recorded once: /start and each tap, per person.
    assert database_rows(dsn, "SELECT count(*) FROM inbox") == [(steps * len(users),)]
    assert database_rows(dsn, "SELECT count(*) FROM assessments") == [(len(users),)]
    assert database_rows(dsn, "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == [(0,)]


async def wait_until_all_sent(dsn: str) -> None:
    for _ in range(200):
        if database_rows(dsn, "SELECT count(*) FROM outbox WHERE sent_at IS NULL") == [(0,)]:
            return
        await asyncio.sleep(0.1)


async def test_an_instance_killed_at_random_moments_loses_nothing_and_repeats_nothing(
    standin, tmp_path: Path, postgres_database: str
):
    users = [TelegramUser(standin, chat_id=7000 + n) for n in range(10)]
    for user in users:
        standin.add_user(user.chat_id)
    rng = random.Random(20261204)
    async with running_cluster(standin, tmp_path, postgres_database) as cluster:
        walking = asyncio.gather(*(walk_typical_check(user) for user in users))
        restarting: dict[int, asyncio.Task[None]] = {}
        while not walking.done():
            await asyncio.wait([walking], timeout=rng.uniform(0.3, 0.9))
            restarting = {i: task for i, task in restarting.items() if not task.done()}
            live = [i for i in range(3) if i not in restarting]
            if walking.done() or len(live) < 2:
                continue  # always one instance serving
            victim = rng.choice(live)
            await cluster.kill(victim)
            restarting[victim] = asyncio.create_task(cluster.start_instance(victim))
        await walking
        await asyncio.gather(*restarting.values())
        await wait_until_all_sent(postgres_database)
        assert cluster.kills >= 3, "the walk ended before enough kills to mean anything"
        assert_all_applied_once(postgres_database, users)
        # Some updates reached a killed instance, and Telegram had to deliver them again.
        assert any(status != 200 for status in cluster.balancer.statuses)
        for user in users:
            results = [text for text in user.texts() if text.startswith(RESULT)]
            # The result once, or twice only across a kill between sending and marking it sent.
            assert 1 <= len(results) <= 2, user.texts()
            assert not any(STORAGE_ERROR in text for text in user.texts())
        repeated = sum(len([t for t in user.texts() if t.startswith(RESULT)]) - 1 for user in users)
        assert repeated <= cluster.kills
        # Webhook instances never poll: Telegram would refuse it while the webhook is set.
        assert standin.calls("getUpdates") == []


async def test_postgresql_restarted_mid_load_the_instances_catch_up_by_themselves(
    standin, tmp_path: Path, postgres_server: PostgresServer, postgres_database: str
):
    users = [TelegramUser(standin, chat_id=7100 + n) for n in range(12)]
    for user in users:
        standin.add_user(user.chat_id)
    # An input waits at most a second for a connection, so the three-second outage is longer:
    # some updates are answered 503 and Telegram delivers them again.
    async with running_cluster(standin, tmp_path, postgres_database, PSOASBOT_DB_POOL_TIMEOUT="1") as cluster:
        walking = asyncio.gather(*(walk_typical_check(user) for user in users))
        # A fifth of the way through (about 40 of the 192 updates applied), the server goes down.
        while database_rows(postgres_database, "SELECT count(*) FROM inbox")[0][0] < 40:  # type: ignore[operator]
            await asyncio.sleep(0.02)
        assert not walking.done()
        await asyncio.to_thread(postgres_server.restart, 3.0)
        await walking
        await wait_until_all_sent(postgres_database)
        assert_all_applied_once(postgres_database, users)
        # Telegram was told to deliver again while the database was away ...
        assert 503 in cluster.balancer.statuses
        # ... and nobody was told their answer could not be saved.
        for user in users:
            assert not any(STORAGE_ERROR in text for text in user.texts())
            assert len([t for t in user.texts() if t.startswith(RESULT)]) == 1
        assert all(bot is not None and bot.process.returncode is None for bot in cluster.bots)  # type: ignore[union-attr]


async def test_a_pool_of_one_connection_makes_inputs_wait_not_fail(
    standin, tmp_path: Path, postgres_database: str
):
    users = [TelegramUser(standin, chat_id=7200 + n) for n in range(12)]
    for user in users:
        standin.add_user(user.chat_id)
    bot = BotProcess(standin, tmp_path, PSOASBOT_DB=postgres_database, PSOASBOT_DB_POOL_SIZE="1")
    await bot.start()
    try:
        await asyncio.gather(*(walk_typical_check(user) for user in users))
        await wait_until_all_sent(postgres_database)
        assert_all_applied_once(postgres_database, users)
        for user in users:
            assert not any(STORAGE_ERROR in text for text in user.texts())
        assert "could not store" not in bot.logs()
    finally:
        await bot.stop()
