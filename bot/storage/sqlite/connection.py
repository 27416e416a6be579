"""The SQLite backend: one file, WAL mode, numbered migrations, one writer.

Why it is shaped like this:
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
- A unit of work is one hand-off to aiosqlite's thread, not one per statement
  (`on_worker`): the hand-offs cost more CPU than the SQL they carried.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TypeVar, cast

import aiosqlite

from bot.core.ports import StorageError, Tx
from bot.storage.sqlite import retention
from bot.storage.sqlite.backup import backup_sqlite
from bot.storage.sqlite.migrations import MIGRATIONS
from bot.storage.sqlite.stores import SqliteTx

BUSY_TIMEOUT_MS = 10_000

T = TypeVar("T")


async def on_worker(connection: aiosqlite.Connection, fn: Callable[[sqlite3.Connection], T]) -> T:
    """Run `fn(raw sqlite3 connection)` on the connection's own thread: one hop for all of `fn`.

    Why: every `await connection.execute(...)`, and every fetch, is a hand-off to
    aiosqlite's thread (a queue put, a future, a self-pipe wake-up of the event
    loop); a conversation step made about nine, and they cost more CPU than the
    SQL. aiosqlite has no public way to run a callable on its thread, so this
    uses `Connection._execute` (queues a callable there, in turn with all other
    calls on the connection) and `Connection._conn` (the sqlite3 connection it
    owns). This is the only place that touches them; tests/test_storage_speed_path.py
    fails at once if an aiosqlite release drops them (pyproject pins < 0.23).

    `fn` runs on that thread, so it must not touch the event loop, and it holds
    up every other use of the connection while it runs: plain, short work only.
    """
    execute = cast(Callable[..., Awaitable[T]], connection._execute)
    return await execute(lambda: fn(connection._conn))


class SqliteStorage:
    """Storage on one SQLite file (bot/core/ports.py: Storage)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._connection: aiosqlite.Connection | None = None
        self._tx: SqliteTx | None = None
        self._lock = asyncio.Lock()

    @property
    def shared(self) -> bool:
        return False

    @property
    def description(self) -> str:
        return f"sqlite:{self.path}"

    async def open(self) -> SqliteStorage:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _probe(self.path)
            connection = await aiosqlite.connect(self.path, isolation_level=None)
        except (OSError, sqlite3.Error) as error:
            raise StorageError(
                f"cannot open the database at {self.path}: {_explain(self.path, error)}"
            ) from error
        self._connection = connection
        try:
            await connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await connection.execute("PRAGMA journal_mode = WAL")
            await connection.execute("PRAGMA synchronous = NORMAL")
            await connection.execute("PRAGMA foreign_keys = ON")
            await self._migrate(connection)
            self._tx = await on_worker(connection, SqliteTx)
        except sqlite3.Error as error:
            await self.close()
            raise StorageError(
                f"cannot prepare the database at {self.path}: {_explain(self.path, error)}"
            ) from error
        except BaseException:
            await self.close()
            raise
        return self

    async def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            self._tx = None
            await connection.close()

    async def __aenter__(self) -> SqliteStorage:
        return await self.open()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def connection(self) -> aiosqlite.Connection:
        if self._connection is None or self._tx is None:
            raise StorageError("the database is not open")
        return self._connection

    # ------------------------------------------------------------ units of work

    async def write(self, work: Callable[[Tx], T], *, key: str | None = None) -> T:
        """One write transaction whose work is the plain function `work`, in one hop.

        BEGIN IMMEDIATE, `work(tx)` and COMMIT run together on aiosqlite's thread.
        Any error rolls back (unless SQLite already did); a database error reaches the
        caller as StorageError with SQLite's reason. `key` needs nothing here: the one
        writer connection (and, across processes, BEGIN IMMEDIATE) serialises everything.

        If the caller is cancelled mid-hop, `work` still runs to its end on the thread
        and the hop commits it whole or rolls it back; the rollback queued behind it,
        before the writer lock is let go, is a safety net that finds nothing open.
        `work` must therefore be all of the transaction's work: async code cannot run
        inside it.
        """
        async with self._lock:
            connection = self.connection
            try:
                return await on_worker(connection, partial(self._begin_and_run, work))
            except sqlite3.Error as error:
                await _roll_back(connection)
                raise StorageError(str(error), transient=_transient(error)) from error
            except BaseException:
                await _roll_back(connection)
                raise

    async def read(self, work: Callable[[Tx], T]) -> T:
        """A consistent read; shares the writer's lock so it never sees half a step."""
        async with self._lock:
            connection = self.connection
            tx = self._tx
            assert tx is not None

            def run(raw: sqlite3.Connection) -> T:
                raw.execute("BEGIN")  # one snapshot for all of the reads, even while another process writes
                try:
                    return work(tx.begin())
                finally:
                    _roll_back_now(raw)

            try:
                return await on_worker(connection, run)
            except sqlite3.Error as error:
                raise StorageError(str(error), transient=_transient(error)) from error

    def _begin_and_run(self, work: Callable[[Tx], T], raw: sqlite3.Connection) -> T:
        """`write`'s hop: BEGIN IMMEDIATE, the work, and COMMIT."""
        tx = self._tx
        assert tx is not None
        raw.execute("BEGIN IMMEDIATE")
        try:
            result = work(tx.begin())
            raw.execute("COMMIT")
        except BaseException:
            _roll_back_now(raw)
            raise
        return result

    # ------------------------------------------------------------ upkeep

    async def schema_version(self) -> int:
        async with self._lock:
            return await on_worker(self.connection, _user_version)

    async def check_ready(self) -> None:
        try:
            version = await self.schema_version()
        except sqlite3.Error as error:
            raise StorageError(f"the database failed: {error}") from error
        if version != len(MIGRATIONS):
            raise StorageError(
                f"the database schema is at version {version}, this program needs version {len(MIGRATIONS)}"
            )

    async def prune(self, now: datetime, keep: timedelta) -> dict[str, int]:
        """See bot/storage/sqlite/retention.py: a binary search for the cut-off, then short
        batches, each its own transaction, so the writer lock is never held for long."""
        cutoff = (now - keep).isoformat(timespec="milliseconds")
        deleted: dict[str, int] = {}
        for table in retention.TABLES:
            last = await self._write_raw(partial(retention.last_rowid_before, table=table, cutoff=cutoff))
            total = 0
            while last is not None:
                count = await self._write_raw(partial(retention.delete_batch, table=table, last=last)) or 0
                total += count
                if count < retention.BATCH:
                    break
            deleted[table.name] = total
        return deleted

    async def _write_raw(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        async with self._lock:
            connection = self.connection

            def run(raw: sqlite3.Connection) -> T:
                raw.execute("BEGIN IMMEDIATE")
                try:
                    result = fn(raw)
                    raw.execute("COMMIT")
                except BaseException:
                    _roll_back_now(raw)
                    raise
                return result

            try:
                return await on_worker(connection, run)
            except sqlite3.Error as error:
                raise StorageError(str(error), transient=_transient(error)) from error

    async def backup(self, target: Path) -> None:
        """SQLite's online backup API: a consistent copy while the bot keeps writing."""
        await asyncio.to_thread(backup_sqlite, self.path, target)

    async def _migrate(self, connection: aiosqlite.Connection) -> None:
        for version, statements in enumerate(MIGRATIONS, start=1):
            await connection.execute("BEGIN IMMEDIATE")
            try:
                async with connection.execute("PRAGMA user_version") as cursor:
                    row = await cursor.fetchone()
                current = int(row[0]) if row else 0
                if current > len(MIGRATIONS):
                    raise StorageError(
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


def _user_version(raw: sqlite3.Connection) -> int:
    row = raw.execute("PRAGMA user_version").fetchone()
    return int(row[0]) if row else 0


def _transient(error: sqlite3.Error) -> bool:
    """A busy or locked database clears by itself; a full disk or a read-only file does not."""
    text = str(error).lower()
    return "locked" in text or "busy" in text


async def _roll_back(connection: aiosqlite.Connection) -> None:
    """Roll back what is still open, without hiding the error that got us here.

    The check runs on the connection's thread, queued behind anything still
    running there (a cancelled caller's hop goes on to its end), so it sees the
    transaction as it really is. A closed connection has nothing to roll back.
    """
    with contextlib.suppress(ValueError):  # aiosqlite: "Connection closed"
        await on_worker(connection, _roll_back_now)


def _roll_back_now(raw: sqlite3.Connection) -> None:
    """ROLLBACK if a transaction is open; never raise in place of the real error.

    After SQLITE_FULL or SQLITE_IOERR, SQLite may have rolled back already, and
    a second ROLLBACK would raise "no transaction is active" in place of the
    real cause; a ROLLBACK that fails itself is not worth more than the error
    the caller is about to see.
    """
    if raw.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            raw.execute("ROLLBACK")


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
