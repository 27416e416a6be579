"""The PostgreSQL backend: psycopg 3 with a connection pool, shared by several instances.

Why it is shaped like this:
- The core's unit of work is a plain synchronous function (bot/core/ports.py), so it
  runs on psycopg's synchronous API in a worker thread: one hand-off from the event loop
  per unit of work, as on SQLite, with a pooled connection (psycopg_pool.ConnectionPool)
  for the whole of it. The worker threads are as many as the pool's connections, so a
  unit of work never holds a thread while it waits for a connection; when every
  connection is busy, further units of work wait in line (never an error).
  (asyncpg, the other well-kept driver, has only an async API: every statement of a step
  would be an await, and the pure step would have to be split into load, compute and
  save. bench/db_driver.py measures both on a step-shaped transaction; see the README.)
- `write(work, key=...)` takes `pg_advisory_xact_lock` on a 64-bit hash of the key as its
  first statement, so one person's inputs are applied one at a time, in the order they
  take the lock, even when they reach different instances; the lock goes with the
  transaction.
- Numbered migrations (bot/storage/postgres/migrations.py) run under a session advisory
  lock, so instances starting together migrate once; a database newer than this program
  is refused, as on SQLite.
- Every database error reaches the caller as StorageError with a plain message;
  `transient` is True for what clears by itself: a lost connection, a server restarting
  or refusing connections for now, a deadlock, a serialization failure, a lock timeout,
  no free connection in time.
- Some failures are retried here, because retrying cannot apply anything twice: a
  transaction the server rolled back (deadlock, serialization failure), and a connection
  found dead before COMMIT was sent (after a server restart, every pooled connection is;
  nothing of the transaction can have been kept). A connection lost *during* COMMIT is
  not retried: whether it committed is unknown, so the caller hears a transient error
  and the transport's redelivery, with the inbox, decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from psycopg import errors
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from bot.core.ports import StorageError, Tx
from bot.storage.postgres.migrations import MIGRATIONS
from bot.storage.postgres.stores import PostgresTx

log = logging.getLogger("psoasbot.storage.postgres")

T = TypeVar("T")

DEFAULT_POOL_SIZE = 10
DEFAULT_POOL_TIMEOUT = 30.0
MIGRATION_LOCK = 0x70736F6173626F74
"""The session advisory lock held while migrating ("psoasbot" in ASCII)."""
ATTEMPTS = 4
"""Tries of one unit of work when the server rolled it back or its connection was dead."""
BATCH = 2000
"""Rows deleted per retention transaction."""

_RETRY_STATES = frozenset({"40001", "40P01"})
"""serialization_failure, deadlock_detected: the server rolled the transaction back."""
_TRANSIENT_STATES = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "55P03",  # lock_not_available (lock_timeout)
        "57014",  # query_canceled (statement_timeout)
        "57P01",  # admin_shutdown: the server is stopping or restarting
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now: the server is starting
        "53300",  # too_many_connections
    }
)


def lock_key(key: str) -> int:
    """A signed 64-bit advisory lock id for `key`, the same in every process (unlike hash())."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


def describe(dsn: str) -> str:
    """host:port/database and user, never the password (for logs and messages)."""
    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "postgresql (a connection string that cannot be read)"
    host = parts.get("host") or "localhost"
    port = parts.get("port") or "5432"
    user = f"{parts['user']}@" if parts.get("user") else ""
    return f"postgresql://{user}{host}:{port}/{parts.get('dbname') or ''}"


class PostgresStorage:
    """Storage on a PostgreSQL database (bot/core/ports.py: Storage)."""

    def __init__(
        self, dsn: str, *, pool_size: int = DEFAULT_POOL_SIZE, pool_timeout: float = DEFAULT_POOL_TIMEOUT
    ) -> None:
        self.dsn = dsn
        self.pool_size = pool_size
        self.pool_timeout = pool_timeout
        self._pool: ConnectionPool | None = None
        self._executor: ThreadPoolExecutor | None = None

    @property
    def shared(self) -> bool:
        return True

    @property
    def description(self) -> str:
        return describe(self.dsn)

    async def open(self) -> PostgresStorage:
        pool: ConnectionPool = ConnectionPool(
            self.dsn,
            min_size=min(2, self.pool_size),
            max_size=self.pool_size,
            open=False,
            timeout=self.pool_timeout,
            # The session's zone is UTC, so times come back in UTC whatever the server's default.
            kwargs={"options": "-c TimeZone=UTC", "connect_timeout": 10},
            name="psoasbot",
        )
        self._executor = ThreadPoolExecutor(max_workers=self.pool_size, thread_name_prefix="psoasbot-db")
        try:
            await self._run(lambda: pool.open(wait=True, timeout=min(self.pool_timeout, 15.0)))
        except PoolTimeout as error:
            await self._close_pool(pool)
            reason = _first_line(error.__cause__) if error.__cause__ else "it did not answer"
            raise StorageError(f"cannot connect to the database at {self.description}: {reason}") from error
        except psycopg.Error as error:
            await self._close_pool(pool)
            raise StorageError(
                f"cannot connect to the database at {self.description}: {_first_line(error)}"
            ) from error
        self._pool = pool
        try:
            await self._run(self._migrate)
        except psycopg.Error as error:
            await self.close()
            raise StorageError(
                f"cannot prepare the database at {self.description}: {_first_line(error)}"
            ) from error
        except BaseException:
            await self.close()
            raise
        return self

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await self._close_pool(pool)
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)

    async def _close_pool(self, pool: ConnectionPool) -> None:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(pool.close, 5.0)

    async def __aenter__(self) -> PostgresStorage:
        return await self.open()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def pool(self) -> ConnectionPool:
        if self._pool is None:
            raise StorageError("the database is not open")
        return self._pool

    async def _run(self, fn: Callable[[], T]) -> T:
        """`fn` on one of the worker threads: the one hand-off of a unit of work."""
        if self._executor is None:
            raise StorageError("the database is not open")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    # ------------------------------------------------------------ units of work

    async def write(self, work: Callable[[Tx], T], *, key: str | None = None) -> T:
        """One transaction whose work is the plain function `work`, in one hand-off.

        With `key`, the transaction first takes the advisory lock of that key, so units of
        work with the same key (one person's inputs) never overlap, in any instance. If the
        caller is cancelled, `work` still runs to its end in its thread and commits whole or
        not at all.
        """
        return await self._run(lambda: self._transaction(work, key, read_only=False))

    async def read(self, work: Callable[[Tx], T]) -> T:
        """A consistent read-only view (one snapshot for all of `work`'s statements)."""
        return await self._run(lambda: self._transaction(work, None, read_only=True))

    def _transaction(self, work: Callable[[Tx], T], key: str | None, *, read_only: bool) -> T:
        pool = self.pool
        for attempt in range(1, ATTEMPTS + 1):
            committing = False
            try:
                with pool.connection() as raw:
                    try:
                        if read_only:
                            raw.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                        if key is not None:
                            raw.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(key),))
                        result = work(PostgresTx(raw))
                        committing = True
                        raw.commit()
                        return result
                    except BaseException:
                        if not raw.broken:
                            with contextlib.suppress(psycopg.Error):
                                raw.rollback()
                        raise
            except PoolTimeout as error:
                raise StorageError(
                    f"no database connection within {self.pool_timeout:g} s "
                    f"({self.description} may be down, or every connection busy)",
                    transient=True,
                ) from error
            except psycopg.Error as error:
                if attempt < ATTEMPTS and _worth_retrying(error, committing):
                    if _connection_lost(error):
                        # After a restart every idle connection in the pool is dead: drop them all.
                        with contextlib.suppress(Exception):
                            pool.check()
                    time.sleep(0.01 * attempt)
                    continue
                raise _storage_error(error) from error
        raise AssertionError("unreachable")

    # ------------------------------------------------------------ upkeep

    def _migrate(self) -> None:
        with self.pool.connection() as raw:
            raw.autocommit = True
            try:
                raw.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
                try:
                    raw.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
                    for version, statements in enumerate(MIGRATIONS, start=1):
                        with raw.transaction():
                            current = _schema_version(raw)
                            if current > len(MIGRATIONS):
                                raise StorageError(
                                    f"the database at {self.description} has schema version {current}, "
                                    f"newer than this program knows ({len(MIGRATIONS)}); upgrade psoasbot"
                                )
                            if current < version:
                                for statement in statements:
                                    raw.execute(statement)
                                raw.execute("DELETE FROM schema_version")
                                raw.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))
                finally:
                    raw.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
            finally:
                raw.autocommit = False

    async def schema_version(self) -> int:
        return await self.read(lambda tx: _schema_version(tx.raw))  # type: ignore[attr-defined]

    async def check_ready(self) -> None:
        try:
            version = await self.schema_version()
        except StorageError as error:
            raise StorageError(f"the database failed: {error}", transient=error.transient) from error
        if version != len(MIGRATIONS):
            raise StorageError(
                f"the database schema is at version {version}, this program needs version {len(MIGRATIONS)}"
            )

    async def prune(self, now: datetime, keep: timedelta) -> dict[str, int]:
        """Old applied-update ids and sent replies, in batches of BATCH rows, each its own
        short transaction (the BRIN indexes on the stamps find them)."""
        cutoff = now - keep
        tables = (
            ("inbox", "received_at < %s"),
            ("outbox", "created_at < %s AND sent_at IS NOT NULL"),
        )
        deleted: dict[str, int] = {}
        for table, condition in tables:
            total = 0
            while True:
                sql = (
                    f"DELETE FROM {table} WHERE ctid = ANY(ARRAY("
                    f"SELECT ctid FROM {table} WHERE {condition} LIMIT {BATCH}))"
                )

                def batch(tx: Tx, sql: str = sql) -> int:
                    return int(tx.raw.execute(sql, (cutoff,)).rowcount)  # type: ignore[attr-defined]

                count = await self.write(batch)
                total += count
                if count < BATCH:
                    break
            deleted[table] = total
        return deleted

    async def backup(self, target: Path) -> None:
        raise StorageError(backup_advice(self.dsn))


def backup_advice(dsn: str) -> str:
    """What to do instead of `psoasbot backup` on PostgreSQL (whose own tool does it better)."""
    return (
        f"{describe(dsn)} is a PostgreSQL database; back it up with PostgreSQL's own tool: "
        f"pg_dump --format=custom --file=psoasbot-$(date +%F).dump '{describe(dsn)}'"
    )


def _schema_version(raw: psycopg.Connection[Any]) -> int:
    row = raw.execute(
        "SELECT CASE WHEN to_regclass('schema_version') IS NULL THEN 0 "
        "ELSE (SELECT coalesce(max(version), 0) FROM schema_version) END"
    ).fetchone()
    return int(row[0]) if row else 0


def _connection_lost(error: psycopg.Error) -> bool:
    state = error.sqlstate or ""
    if state.startswith("08") or state in ("57P01", "57P02", "57P03"):
        return True
    # A connection that died under us (the server went away) has no SQLSTATE at all.
    return isinstance(error, psycopg.OperationalError) and error.sqlstate is None


def _worth_retrying(error: psycopg.Error, committing: bool) -> bool:
    """True when running the unit of work again cannot apply anything twice."""
    if error.sqlstate in _RETRY_STATES:
        return True  # the server rolled it back
    return _connection_lost(error) and not committing


def _storage_error(error: psycopg.Error) -> StorageError:
    state = error.sqlstate or ""
    transient = state in _TRANSIENT_STATES or _connection_lost(error)
    reason = _first_line(error)
    if _connection_lost(error):
        reason = f"the database connection was lost ({reason})"
    elif isinstance(error, errors.DiskFull):
        reason = f"the database server's disk is full ({reason})"
    return StorageError(reason, transient=transient)


def _first_line(error: BaseException | None) -> str:
    text = str(error or "").strip()
    return text.splitlines()[0] if text else type(error).__name__
