"""Retention, on every backend: old inbox keys and sent replies are forgotten; nothing owed
or personal is; a large backlog goes in batches, each its own short transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.adapters.telegram.runner import RETENTION
from bot.core.events import Press, Start, Text
from bot.core.ports import Storage
from bot.core.service import ConversationService
from bot.storage.postgres import connection as postgres
from bot.storage.sqlite import retention
from tests.storage_support import execute, rows
from tests.support import core


def stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


async def test_old_inbox_keys_and_sent_replies_go_owed_replies_and_history_stay(storage: Storage):
    now = datetime.now(UTC)
    old = stamp(now - timedelta(days=30))
    service = ConversationService(core().engine, storage)
    context = {"chat": 1}
    # A check begun "a month ago": its update ids and replies are restamped 30 days back,
    # all of its replies sent except the last, which is still owed.
    await service.handle("telegram", "1", Start(), inbox_key="update:1", outbox_context=context)
    await service.handle("telegram", "1", Press("1:y"), inbox_key="update:2", outbox_context=context)
    await execute(storage, "UPDATE inbox SET received_at = ?", old)
    await execute(storage, "UPDATE outbox SET created_at = ?, sent_at = ?", old, old)
    await execute(storage, "UPDATE outbox SET sent_at = NULL WHERE id = (SELECT max(id) FROM outbox)")
    owed = await rows(storage, "SELECT id FROM outbox WHERE sent_at IS NULL")
    old_sent = len(await rows(storage, "SELECT id FROM outbox WHERE sent_at IS NOT NULL"))
    # Today's step.
    await service.handle("telegram", "1", Text("lower back"), inbox_key="update:3", outbox_context=context)
    recent = await rows(storage, "SELECT id FROM outbox WHERE created_at > ?", old)
    answers = await rows(storage, "SELECT check_id, key, value FROM answers ORDER BY key")
    assert old_sent >= 1 and recent

    deleted = await storage.prune(now, RETENTION)

    assert deleted == {"inbox": 2, "outbox": old_sent}
    assert await rows(storage, "SELECT key FROM inbox") == [("update:3",)]
    assert await rows(storage, "SELECT id FROM outbox ORDER BY id") == sorted(owed + recent)
    assert await rows(storage, "SELECT check_id, key, value FROM answers ORDER BY key") == answers
    assert (await service.handle("telegram", "1", Text("lower back"), inbox_key="update:3")).duplicate
    assert await storage.prune(now, RETENTION) == {"inbox": 0, "outbox": 0}


async def test_the_cut_off_is_found_across_gaps_and_deleted_in_batches(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(retention, "BATCH", 7)
    monkeypatch.setattr(postgres, "BATCH", 7)
    start = datetime(2026, 1, 1, tzinfo=UTC)

    def fill(tx: object) -> None:
        for n in range(1, 301):
            if n % 3 == 0 or 150 <= n <= 170:  # gaps, as deleted users leave
                continue
            tx.raw.execute(  # type: ignore[attr-defined]
                "INSERT INTO inbox (key, user_id, received_at) VALUES "
                + ("(%s, NULL, %s)" if "postgres" in storage.description else "(?, NULL, ?)"),
                (f"update:{n}", stamp(start + timedelta(hours=n))),
            )

    await storage.write(fill)
    cut = stamp(start + timedelta(hours=200))
    kept_before = await rows(storage, "SELECT key FROM inbox WHERE received_at >= ? ORDER BY key", cut)
    old = len(await rows(storage, "SELECT key FROM inbox WHERE received_at < ?", cut))

    # "Now" is 7 days (168 h) after hour 200: everything before hour 200 goes.
    deleted = await storage.prune(start + timedelta(hours=200 + 168), RETENTION)

    assert deleted["inbox"] == old > 7 * 3
    assert await rows(storage, "SELECT key FROM inbox ORDER BY key") == kept_before
    assert await storage.prune(start, RETENTION) == {"inbox": 0, "outbox": 0}


async def test_an_empty_database_prunes_nothing(storage: Storage):
    assert await storage.prune(datetime.now(UTC), RETENTION) == {"inbox": 0, "outbox": 0}
