"""SQLite only: the file is created with its folder, in WAL mode, and a write that SQLite
itself refuses reaches the person as "couldn't save that" with nothing changed. (Everything
every backend promises is in tests/test_storage.py.)"""

from __future__ import annotations

import io
from pathlib import Path

from bot.adapters.terminal import TerminalChat
from bot.core.events import Start, Text
from bot.core.service import ConversationService
from bot.storage.sqlite import SqliteStorage as Database
from bot.storage.sqlite.migrations import MIGRATIONS
from tests.support import core, rows


async def test_new_database_is_created_with_its_folder_migrated_and_in_wal_mode(tmp_path: Path):
    async with Database(tmp_path / "sub" / "bot.db") as database:
        assert await database.schema_version() == len(MIGRATIONS)
        assert rows(database.path, "PRAGMA journal_mode") == [("wal",)]


async def test_a_failed_write_tells_the_terminal_user_and_changes_nothing(tmp_path: Path):
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
