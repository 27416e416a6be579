"""Forgetting transport bookkeeping that can no longer matter.

Two tables grow with every message and are never read again once their job is
done: `inbox` (the ids of updates already applied, kept so a redelivered update
is recognised) and the sent rows of `outbox` (replies Telegram has accepted,
each holding the whole message text). Left alone they grow without end, and
the outbox keeps what the bot said to people longer than it needs to.

- An inbox key only has to outlive redelivery. Telegram keeps an unconfirmed
  update for 24 hours, so a key older than the retention period (7 days by
  default) can never be needed again.
- A sent outbox row has been delivered; nothing reads it afterwards (the
  reports read sessions and check-ins). Unsent rows are never pruned: they are
  still owed, and the outbox sends or drops them.

Nothing else is pruned: answers, checks, results, sessions and check-ins are the
person's history and stay until they send /forget.

Both tables only ever grow at the end, in time order, so the cut-off row is
found by a binary search on rowid (about 20 point lookups, no extra index that
every step would pay for), and rows are deleted in batches, each its own short
transaction, so a first sweep of a large old database never holds the writer
lock for long.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Final

BATCH: Final[int] = 2000


@dataclass(frozen=True)
class Table:
    name: str
    stamp: str
    only: str = ""
    """An extra condition on which old rows may go."""


TABLES: Final[tuple[Table, ...]] = (
    Table("inbox", "received_at"),
    Table("outbox", "created_at", " AND sent_at IS NOT NULL"),
)


def last_rowid_before(raw: sqlite3.Connection, *, table: Table, cutoff: str) -> int | None:
    """The largest rowid whose stamp is before `cutoff` (rows are in time order by rowid)."""
    low, high = raw.execute(f"SELECT min(rowid), max(rowid) FROM {table.name}").fetchone()
    if low is None:
        return None
    found: int | None = None
    while low <= high:
        middle = (low + high) // 2
        row = raw.execute(
            f"SELECT rowid, {table.stamp} FROM {table.name} WHERE rowid >= ? ORDER BY rowid LIMIT 1",
            (middle,),
        ).fetchone()
        if row is None or row[0] > high:  # nothing left between middle and high
            high = middle - 1
        elif row[1] < cutoff:
            found, low = row[0], row[0] + 1
        else:
            high = middle - 1
    return found


def delete_batch(raw: sqlite3.Connection, *, table: Table, last: int) -> int:
    cursor = raw.execute(
        f"DELETE FROM {table.name} WHERE rowid IN "
        f"(SELECT rowid FROM {table.name} WHERE rowid <= ?{table.only} LIMIT ?)",
        (last, BATCH),
    )
    return cursor.rowcount
