"""The SQLite database: one file, WAL mode, numbered migrations, one writer.

Why it is shaped like this (see DESIGN.md):
- One writer connection guarded by an asyncio.Lock: aiosqlite runs one thread
  per connection, and transactions on a shared connection would interleave.
- Every write transaction starts with BEGIN IMMEDIATE, so a second process on
  the same file waits on `busy_timeout` instead of failing with "database is
  locked" when a read transaction tries to upgrade.
- WAL with synchronous=NORMAL: a committed step survives a process crash (the
  WAL is written before COMMIT returns); only a power cut can lose the last
  few transactions, which is the usual trade for a chat bot.
- Migrations are numbered by `PRAGMA user_version`; each runs in its own
  transaction, and a database newer than this program is refused clearly.
- A write that fails (a full disk, an I/O error) leaves the connection with no
  open transaction, so the next input can be stored once the cause is gone;
  a file that cannot be opened is reported in one line that says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

from bot.storage.migrations import MIGRATIONS

BUSY_TIMEOUT_MS = 10_000


class DatabaseError(RuntimeError):
    """The database cannot be used; the message says why in plain words."""


class Database:
    """The single source of truth for users, conversations, answers and results."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._connection: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> Database:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _probe(self.path)
            connection = await aiosqlite.connect(self.path, isolation_level=None)
        except (OSError, sqlite3.Error) as error:
            raise DatabaseError(
                f"cannot open the database at {self.path}: {_explain(self.path, error)}"
            ) from error
        self._connection = connection
        try:
            await connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await connection.execute("PRAGMA journal_mode = WAL")
            await connection.execute("PRAGMA synchronous = NORMAL")
            await connection.execute("PRAGMA foreign_keys = ON")
            await self._migrate(connection)
        except sqlite3.Error as error:
            await self.close()
            raise DatabaseError(
                f"cannot prepare the database at {self.path}: {_explain(self.path, error)}"
            ) from error
        except BaseException:
            await self.close()
            raise
        return self

    async def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await connection.close()

    async def __aenter__(self) -> Database:
        return await self.open()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def connection(self) -> aiosqlite.Connection:
        if self._connection is None:
            raise DatabaseError("the database is not open")
        return self._connection

    @asynccontextmanager
    async def write(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction: all of it commits, or none of it does.

        A COMMIT can fail too (on a full disk it is where the WAL grows), and
        SQLite may already have rolled back by itself; either way the caller
        gets the original error and the connection is left with no open
        transaction, so the next write works once the cause is gone instead of
        failing with "cannot start a transaction within a transaction".
        """
        async with self._lock:
            connection = self.connection
            await connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
                await connection.execute("COMMIT")
            except BaseException:
                await _roll_back(connection)
                raise

    @asynccontextmanager
    async def read(self) -> AsyncIterator[aiosqlite.Connection]:
        """A consistent read; shares the writer's lock so it never sees half a step."""
        async with self._lock:
            yield self.connection

    async def schema_version(self) -> int:
        async with self.read() as connection, connection.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def _migrate(self, connection: aiosqlite.Connection) -> None:
        for version, statements in enumerate(MIGRATIONS, start=1):
            await connection.execute("BEGIN IMMEDIATE")
            try:
                async with connection.execute("PRAGMA user_version") as cursor:
                    row = await cursor.fetchone()
                current = int(row[0]) if row else 0
                if current > len(MIGRATIONS):
                    raise DatabaseError(
                        f"the database at {self.path} has schema version {current}, "
                        f"newer than this program knows ({len(MIGRATIONS)}); upgrade psoasbot"
                    )
                if current < version:
                    for statement in statements:
                        await connection.execute(statement)
                    await connection.execute(f"PRAGMA user_version = {version}")
            except BaseException:
                await _roll_back(connection)
                raise
            await connection.execute("COMMIT")


async def _roll_back(connection: aiosqlite.Connection) -> None:
    """Roll back what is still open, without hiding the error that got us here.

    After SQLITE_FULL or SQLITE_IOERR, SQLite may have rolled back already, and
    a second ROLLBACK would raise "no transaction is active" in place of the
    real cause; a ROLLBACK that fails itself is not worth more than the error
    the caller is about to see.
    """
    if connection.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            await connection.execute("ROLLBACK")


def _probe(path: Path) -> None:
    """Open and close the file once before aiosqlite does.

    When aiosqlite cannot open a file, its worker thread outlives the failed
    connect and prints a traceback ("Event loop is closed") after the program
    has already said what went wrong; failing here first keeps the report to
    the one clear line.
    """
    sqlite3.connect(path).close()


def _explain(path: Path, error: BaseException) -> str:
    """SQLite's reason, plus the likely cause when the file system can tell us.

    "unable to open database file" is all SQLite says for a folder, a
    read-only mount or a missing permission; the person running the bot needs
    to know which. (Root ignores permission bits, so a read-only mount is
    checked on its own.)
    """
    reason = str(error)
    if path.is_dir():
        return f"{reason} (it is a folder, not a file)"
    folder = path.parent
    try:
        read_only_mount = bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        read_only_mount = False
    if read_only_mount:
        return f"{reason} (it is on a read-only file system)"
    if not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return f"{reason} (the file or its folder is not writable)"
    return reason
