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
- A conversation step is one hand-off to aiosqlite's thread, not one per
  statement (`write_sync`, `on_worker`): the hand-offs cost more CPU than the
  SQL they carried.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar, cast

import aiosqlite

from bot.storage.migrations import MIGRATIONS

BUSY_TIMEOUT_MS = 10_000

T = TypeVar("T")
P = ParamSpec("P")


class DatabaseError(RuntimeError):
    """The database cannot be used; the message says why in plain words."""


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


def on_connection(
    fn: Callable[Concatenate[sqlite3.Connection, P], T],
) -> Callable[Concatenate[aiosqlite.Connection, P], Coroutine[Any, Any, T]]:
    """`fn(raw, ...)` for a caller holding an aiosqlite connection: the whole of `fn` in one
    hand-off (`on_worker`). The repositories write each query once, as a plain function of
    the raw connection, and name the awaitable form with this."""

    async def on_aiosqlite(connection: aiosqlite.Connection, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return await on_worker(connection, lambda raw: fn(raw, *args, **kwargs))

    on_aiosqlite.__name__ = on_aiosqlite.__qualname__ = fn.__name__.removesuffix("_sync")
    on_aiosqlite.__doc__ = fn.__doc__
    return on_aiosqlite


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

    async def write_sync(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """One write transaction whose work is the plain function `fn`, in one hop.

        BEGIN IMMEDIATE, `fn(raw connection)` and COMMIT run together on
        aiosqlite's thread, so a whole step costs one hand-off instead of one per
        statement (see `on_worker`). Failures are handled as in `write`: any
        error rolls back (unless SQLite already did) and is raised unchanged.

        If the caller is cancelled mid-hop, `fn` still runs to its end on the
        thread and the hop commits it whole or rolls it back (as with a cancel
        during COMMIT in `write`, what commits stays committed); the rollback
        queued behind it, before the writer lock is let go, is a safety net that
        finds nothing open. `fn` must therefore be all of the transaction's work:
        async code cannot run inside it (see `on_worker`).
        """
        async with self._lock:
            connection = self.connection
            try:
                return await on_worker(connection, partial(_begin_and_run, fn))
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


def _begin_and_run(fn: Callable[[sqlite3.Connection], T], raw: sqlite3.Connection) -> T:
    """`write_sync`'s hop: BEGIN IMMEDIATE, the work, and COMMIT."""
    raw.execute("BEGIN IMMEDIATE")
    try:
        result = fn(raw)
        raw.execute("COMMIT")
    except BaseException:
        _roll_back_now(raw)
        raise
    return result


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
