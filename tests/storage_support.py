"""One storage suite for every backend: the `storage_target` fixture (SQLite file or a
fresh PostgreSQL database) and plain-SQL helpers that read both the same way.

Tests written against the port (`storage.write(lambda tx: ...)`) need nothing from here
but the fixture. Tests that look at rows with SQL write SQLite-style `?` placeholders;
on PostgreSQL they become `%s`, and values come back as SQLite returns them (times as
ISO text, yes/no as 0/1, JSON as its text), so one assertion serves both.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bot.core.ports import Storage
from bot.storage import is_postgres, open_storage

BACKENDS = ("sqlite", "postgres")


def is_pg(storage: Storage) -> bool:
    return storage.description.startswith("postgresql://")


def dialect(storage: Storage, sql: str) -> str:
    return sql.replace("?", "%s") if is_pg(storage) else sql


def as_sqlite_returns(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value)
    return value


def fetch(tx: Any, storage: Storage, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Rows of `sql` inside a unit of work, as SQLite would return them."""
    query = dialect(storage, sql)
    cursor = tx.raw.execute(query, params) if params else tx.raw.execute(query)
    if cursor.description is None:
        return []
    return [tuple(as_sqlite_returns(value) for value in row) for row in cursor.fetchall()]


async def rows(storage: Storage, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    return await storage.read(lambda tx: fetch(tx, storage, sql, params))


async def scalar(storage: Storage, sql: str, *params: Any) -> Any:
    found = await rows(storage, sql, *params)
    return found[0][0] if found else None


async def execute(storage: Storage, sql: str, *params: Any) -> None:
    """A plain statement in a write transaction of its own (to set up a test's rows)."""
    query = dialect(storage, sql)
    await storage.write(lambda tx: tx.raw.execute(query, params) if params else tx.raw.execute(query))


async def open_target(target: str) -> Storage:
    return await open_storage(target)


def target_is_postgres(target: str) -> bool:
    return is_postgres(target)
