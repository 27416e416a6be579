"""Storage backends behind the core's ports (bot/core/ports.py).

`open_storage(target)` chooses the backend from the target: a `postgresql://` (or
`postgres://`) connection string opens PostgreSQL, anything else is an SQLite file.
Nothing outside this package imports a database driver; the PostgreSQL driver is
imported only when a PostgreSQL database is asked for.
"""

from __future__ import annotations

from pathlib import Path

from bot.core.ports import Storage

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres(target: str | Path) -> bool:
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


async def open_storage(
    target: str | Path, *, pool_size: int | None = None, pool_timeout: float | None = None
) -> Storage:
    """Open (and migrate) the database `target` names; StorageError says why not.

    `pool_size` is PostgreSQL's number of connections (and worker threads) for this
    process, `pool_timeout` how long a unit of work waits for one; SQLite has one
    connection whatever they are.
    """
    if is_postgres(target):
        from bot.storage.postgres import PostgresStorage
        from bot.storage.postgres.connection import DEFAULT_POOL_SIZE, DEFAULT_POOL_TIMEOUT

        assert isinstance(target, str)
        return await PostgresStorage(
            target,
            pool_size=pool_size or DEFAULT_POOL_SIZE,
            pool_timeout=pool_timeout or DEFAULT_POOL_TIMEOUT,
        ).open()
    from bot.storage.sqlite import SqliteStorage

    return await SqliteStorage(Path(target)).open()


def backup(source: str | Path, target: Path, *, force: bool = False) -> int:
    """A consistent copy of the database `source` names at `target`; its size in bytes.

    Runs without opening the database for the bot (no migrations, read-only), so it works
    whatever state the bot and its content are in. PostgreSQL is backed up with its own
    pg_dump: StorageError says how.
    """
    from bot.core.ports import StorageError

    if is_postgres(source):
        from bot.storage.postgres.connection import backup_advice

        assert isinstance(source, str)
        raise StorageError(backup_advice(source))
    from bot.storage.sqlite.backup import backup_sqlite

    return backup_sqlite(Path(source), target, force=force)
