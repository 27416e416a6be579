"""The two questions the operator's endpoints ask storage.

/readyz asks whether the database answers and has exactly the schema this program
was built for; /metrics asks how many replies are stored but not sent. Both are
cheap and go through the storage port, so they work for every backend.
"""

from __future__ import annotations

import asyncio

from bot.core.ports import Storage, StorageError

READY_TIMEOUT_SECONDS = 2.0
"""A database slower than this to answer is not ready to serve people."""


async def not_ready_reason(storage: Storage, timeout: float = READY_TIMEOUT_SECONDS) -> str | None:
    """Why the database cannot serve now, in one line; None when it can."""
    try:
        await asyncio.wait_for(storage.check_ready(), timeout)
    except TimeoutError:
        return f"the database did not answer within {timeout:g} s"
    except StorageError as error:
        return str(error)
    return None


async def outbox_backlog(storage: Storage) -> int:
    return await storage.read(lambda tx: tx.outbox.backlog())
