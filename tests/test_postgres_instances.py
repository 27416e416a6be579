"""Several instances of the bot on one PostgreSQL database, as real processes in webhook mode:
the broadcast limit is the bot's, shared by all of them, and each reminder goes out once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.plan.model import Plan, PlanState
from bot.core.ports import Tx
from bot.storage import open_storage
from tests.postgres_cluster import running_cluster
from tests.telegram_support import new_standin

EVERY_DAY = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
PEOPLE = 45
PER_SECOND = 10


@pytest.fixture()
async def standin():
    async with new_standin() as running:
        yield running


async def seed_due_reminders(dsn: str, chats: list[int]) -> None:
    """People with a plan and a routine reminder that fell due a few seconds ago."""
    now = datetime.now(UTC)

    def seed(tx: Tx) -> None:
        for chat in chats:
            user = tx.users.get_or_create("telegram", str(chat))
            tx.plans.save(
                user,
                Plan(
                    state=PlanState.ACTIVE,
                    routine="desk-sitter",
                    level=0,
                    baseline_pain=4,
                    reference_pain=4,
                    reference_at=now,
                    started_at=now,
                    assessed_ball=False,
                    ball_withdrawn=False,
                    forbidden_tags=frozenset(),
                ),
            )
            tx.reminders.add(user, "session", EVERY_DAY, "07:30", "UTC", now - timedelta(seconds=5))

    storage = await open_storage(dsn)
    try:
        await storage.write(seed)
    finally:
        await storage.close()


def most_in_any_second(times: list[float]) -> int:
    times = sorted(times)
    most, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 1.0:
            start += 1
        most = max(most, end - start + 1)
    return most


async def test_three_instances_together_stay_under_the_broadcast_limit_and_send_each_reminder_once(
    standin, tmp_path: Path, postgres_database: str
):
    chats = [8000 + n for n in range(PEOPLE)]
    for chat in chats:
        standin.add_user(chat)
    # The default outbox lease (30 s): a reminder claimed by one instance may wait a few seconds
    # for its shared start, and must stay that instance's to send meanwhile.
    async with running_cluster(
        standin,
        tmp_path,
        postgres_database,
        PSOASBOT_BROADCAST_PER_SECOND=str(PER_SECOND),
        PSOASBOT_OUTBOX_LEASE_SECONDS="30",
    ) as cluster:
        mark = standin.mark()
        await seed_due_reminders(postgres_database, chats)

        def cards() -> list[float]:
            return [
                call.time
                for call in standin.calls("sendMessage")
                if call.seq > mark and call.status == 200 and "Time for your routine" in str(call.params)
            ]

        await standin.wait_for(lambda: len(cards()) >= PEOPLE, timeout=60, what="every reminder sent")
        await asyncio.sleep(1.0)  # anything sent twice would arrive now
        sent = cards()
        # Each person's reminder once, across the three instances ...
        per_chat = [
            str(call.params.get("chat_id"))
            for call in standin.calls("sendMessage")
            if call.seq > mark and call.status == 200
        ]
        assert sorted(per_chat) == sorted(str(chat) for chat in chats)
        # ... and never more than the limit in any second, as Telegram receives them (alone, each
        # instance would send at the full rate: three times the limit together).
        assert most_in_any_second(sent) <= PER_SECOND, cluster.logs()
        # Sharing does not slow them below the limit either: 45 at 10/s take about 4.5 s.
        assert max(sent) - min(sent) < PEOPLE / PER_SECOND * 1.6
        # Webhook instances never poll.
        assert standin.calls("getUpdates") == []
