"""The two questions the operator's endpoints ask the database, answered for SQLite.

/readyz asks whether the database answers and has exactly the schema this program
was built for; /metrics asks how many replies are stored but not sent. Both are
cheap: one PRAGMA, and a count over the partial index of unsent outbox rows.
"""

from __future__ import annotations

import asyncio
import sqlite3

from bot.storage.database import Database, DatabaseError
from bot.storage.migrations import MIGRATIONS

READY_TIMEOUT_SECONDS = 2.0
"""A database slower than this to answer one PRAGMA is not ready to serve people."""


async def not_ready_reason(database: Database, timeout: float = READY_TIMEOUT_SECONDS) -> str | None:
    """Why the database cannot serve now, in one line; None when it can."""
    try:
        version = await asyncio.wait_for(database.schema_version(), timeout)
    except TimeoutError:
        return f"the database did not answer within {timeout:g} s"
    except (sqlite3.Error, DatabaseError) as error:
        return f"the database failed: {error}"
    if version != len(MIGRATIONS):
        return f"the database schema is at version {version}, this program needs version {len(MIGRATIONS)}"
    return None


async def outbox_backlog(database: Database) -> int:
    async with (
        database.read() as connection,
        connection.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL") as cursor,
    ):
        row = await cursor.fetchone()
    return int(row[0]) if row else 0
