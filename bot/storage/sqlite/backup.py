"""`psoasbot backup PATH`: a consistent copy of the SQLite database, safe while the bot runs.

SQLite's online backup API copies the database page by page inside one read
transaction (`pages=-1`: all in one step), so the copy is the database as of one
moment, whole steps only, while the bot goes on writing (WAL lets a reader and a
writer work side by side). Copying the file with `cp` instead can catch a step half
written, and misses whatever is still in the -wal file.

The copy is written beside the target under a temporary name and renamed into place,
so PATH is never a half-written file, and it is switched out of WAL mode so that one
file is the whole backup.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from bot.core.ports import StorageError

BUSY_TIMEOUT_MS = 10_000


def backup_sqlite(source: Path, target: Path, *, force: bool = False) -> int:
    """Copy the database at `source` to `target`; returns the copy's size in bytes."""
    if not source.is_file():
        raise StorageError(f"there is no database at {source}")
    if target.is_dir():
        raise StorageError(f"{target} is a folder; name the backup file")
    if target.exists() and not force:
        raise StorageError(f"{target} already exists; add --force to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        # Read-only, so a typo can never create or change a database.
        reader = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
        try:
            reader.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            writer = sqlite3.connect(partial)
            try:
                reader.backup(writer)
                writer.execute("PRAGMA journal_mode = DELETE")
            finally:
                writer.close()
        finally:
            reader.close()
        os.replace(partial, target)
    except (sqlite3.Error, OSError) as error:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise StorageError(f"could not back up {source} to {target}: {error}") from error
    return target.stat().st_size
