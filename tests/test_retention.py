"""Retention: old inbox keys and sent replies are forgotten; nothing owed or personal is."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.adapters.telegram.runner import RETENTION
from bot.core.events import Press, Start, Text
from bot.core.service import ConversationService
from bot.storage.sqlite import SqliteStorage as Database
from bot.storage.sqlite import retention
from tests.support import core, rows


def stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


async def test_old_inbox_keys_and_sent_replies_go_owed_replies_and_history_stay(tmp_path: Path):
    db = tmp_path / "bot.db"
    now = datetime.now(UTC)
    old = stamp(now - timedelta(days=30))
    async with Database(db) as database:
        service = ConversationService(core().engine, database)
        context = {"chat": 1}
        # A check begun "a month ago": its update ids and replies are restamped 30 days back,
        # all of its replies sent except the last, which is still owed.
        await service.handle("telegram", "1", Start(), inbox_key="update:1", outbox_context=context)
        await service.handle("telegram", "1", Press("1:y"), inbox_key="update:2", outbox_context=context)
        with sqlite3.connect(db) as connection:
            connection.execute("UPDATE inbox SET received_at = ?", (old,))
            connection.execute("UPDATE outbox SET created_at = ?, sent_at = ?", (old, old))
            connection.execute("UPDATE outbox SET sent_at = NULL WHERE id = (SELECT max(id) FROM outbox)")
        owed = rows(db, "SELECT id FROM outbox WHERE sent_at IS NULL")
        old_sent = len(rows(db, "SELECT id FROM outbox WHERE sent_at IS NOT NULL"))
        # Today's step.
        await service.handle(
            "telegram", "1", Text("lower back"), inbox_key="update:3", outbox_context=context
        )
        recent = rows(db, "SELECT id FROM outbox WHERE created_at > ?", old)
        answers = rows(db, "SELECT check_id, key, value FROM answers ORDER BY key")
        assert old_sent >= 1 and recent

        deleted = await database.prune(now, RETENTION)

        assert deleted == {"inbox": 2, "outbox": old_sent}
        assert rows(db, "SELECT key FROM inbox") == [("update:3",)]
        assert rows(db, "SELECT id FROM outbox ORDER BY id") == sorted(owed + recent)
        assert rows(db, "SELECT check_id, key, value FROM answers ORDER BY key") == answers
        assert (await service.handle("telegram", "1", Text("lower back"), inbox_key="update:3")).duplicate
        assert await database.prune(now, RETENTION) == {"inbox": 0, "outbox": 0}


async def test_the_cut_off_is_found_across_gaps_and_deleted_in_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(retention, "BATCH", 7)
    db = tmp_path / "bot.db"
    start = datetime(2026, 1, 1, tzinfo=UTC)
    async with Database(db) as database:
        with sqlite3.connect(db) as connection:
            connection.executemany(
                "INSERT INTO inbox (key, user_id, received_at) VALUES (?, NULL, ?)",
                [(f"update:{n}", stamp(start + timedelta(hours=n))) for n in range(1, 301)],
            )
            connection.execute("DELETE FROM inbox WHERE rowid % 3 = 0 OR rowid BETWEEN 150 AND 170")
        kept_before = rows(
            db, "SELECT key FROM inbox WHERE received_at >= ?", stamp(start + timedelta(hours=200))
        )
        old = len(
            rows(db, "SELECT key FROM inbox WHERE received_at < ?", stamp(start + timedelta(hours=200)))
        )

        # "Now" is 7 days (168 h) after hour 200: everything before hour 200 goes.
        deleted = await database.prune(start + timedelta(hours=200 + 168), RETENTION)

        assert deleted["inbox"] == old > retention.BATCH * 3
        assert rows(db, "SELECT key FROM inbox") == kept_before
        assert await database.prune(start, RETENTION) == {"inbox": 0, "outbox": 0}


async def test_an_empty_database_prunes_nothing(tmp_path: Path):
    async with Database(tmp_path / "bot.db") as database:
        assert await database.prune(datetime.now(UTC), RETENTION) == {"inbox": 0, "outbox": 0}
