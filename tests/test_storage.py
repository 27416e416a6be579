"""Storage: a real SQLite file, migrations, transactions, and per-user order."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from bot.core.events import Press, Start, Text
from bot.core.ports import StorageError, Tx
from bot.core.service import ConversationService
from bot.storage.sqlite import SqliteStorage as Database
from bot.storage.sqlite.migrations import MIGRATIONS
from tests.support import core, rows


async def test_new_database_is_migrated_and_in_wal_mode(tmp_path: Path):
    async with Database(tmp_path / "sub" / "bot.db") as database:
        assert await database.schema_version() == len(MIGRATIONS)
        assert rows(database.path, "PRAGMA journal_mode") == [("wal",)]


async def test_reopening_keeps_data_and_does_not_migrate_twice(tmp_path: Path):
    path = tmp_path / "bot.db"
    async with Database(path) as database:
        service = ConversationService(core().engine, database)
        await service.handle("test", "u1", Start())
    async with Database(path) as database:
        service = ConversationService(core().engine, database)
        handled = await service.handle("test", "u1", Start())
        assert "Welcome back" in handled.replies[0].text


async def test_database_newer_than_the_program_is_refused(tmp_path: Path):
    path = tmp_path / "bot.db"
    with sqlite3.connect(path) as connection:
        connection.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    with pytest.raises(StorageError, match="newer than this program"):
        await Database(path).open()


async def test_a_failed_step_leaves_nothing_half_written(tmp_path: Path):
    async with Database(tmp_path / "bot.db") as database:

        def crash_in_the_middle(tx: Tx) -> None:
            tx.users.get_or_create("t", "x")
            raise RuntimeError("crash in the middle")

        with pytest.raises(RuntimeError):
            await database.write(crash_in_the_middle)
        assert rows(database.path, "SELECT COUNT(*) FROM users") == [(0,)]


async def test_inputs_from_one_user_never_interleave(tmp_path: Path):
    """Many toggles at once for one user: every one is applied, in turn."""
    async with Database(tmp_path / "bot.db") as database:
        service = ConversationService(core().engine, database)
        await service.handle("test", "u1", Start())
        await service.handle("test", "u1", Press("1:y"))
        # 7 area toggles on question step 2, sent concurrently, twice each -> none selected.
        toggles = [Press(f"2:t{index}") for index in range(7)] * 2
        await asyncio.gather(*(service.handle("test", "u1", event) for event in toggles))
        [(pending, step)] = rows(database.path, "SELECT pending, step FROM conversations")
        assert pending == "[]" and step == 2
        # Odd toggles select: now toggle all once more concurrently.
        await asyncio.gather(*(service.handle("test", "u1", Press(f"2:t{i}")) for i in range(7)))
        handled = await service.handle("test", "u1", Press("2:ok"))
        assert handled.state == "radiates_to"


async def test_many_users_concurrently_each_keep_their_own_state(tmp_path: Path):
    async with Database(tmp_path / "bot.db") as database:
        service = ConversationService(core().engine, database)
        users = [f"user{n}" for n in range(30)]
        await asyncio.gather(*(service.handle("test", user, Start()) for user in users))
        await asyncio.gather(*(service.handle("test", user, Text("yes")) for user in users))
        await asyncio.gather(*(service.handle("test", user, Text("groin")) for user in users))
        assert rows(database.path, "SELECT state, COUNT(*) FROM conversations GROUP BY state") == [
            ("radiates_to", 30)
        ]


async def test_two_processes_worth_of_connections_share_one_file(tmp_path: Path):
    """Two Database objects (as two processes would have) writing at once never see 'locked'."""
    path = tmp_path / "bot.db"
    async with Database(path) as first, Database(path) as second:
        a = ConversationService(core().engine, first)
        b = ConversationService(core().engine, second)
        await asyncio.gather(
            *(a.handle("test", f"a{n}", Start()) for n in range(20)),
            *(b.handle("test", f"b{n}", Start()) for n in range(20)),
        )
        assert rows(path, "SELECT COUNT(*) FROM users") == [(40,)]


async def test_a_failed_write_tells_the_terminal_user_and_changes_nothing(tmp_path: Path):
    import io

    from bot.adapters.terminal import TerminalChat

    async with Database(tmp_path / "bot.db") as database:
        chat = TerminalChat(ConversationService(core().engine, database), user="u1")
        out = io.StringIO()
        await chat.say(Start(), out)
        await chat.say(Text("yes"), out)
        await database.connection.execute("PRAGMA query_only = ON")  # every write now fails
        out = io.StringIO()
        await chat.say(Text("groin"), out)
        assert "couldn't save that just now" in out.getvalue()
        await database.connection.execute("PRAGMA query_only = OFF")
        assert rows(database.path, "SELECT state FROM conversations") == [("pain_location",)]
