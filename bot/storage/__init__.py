"""Storage backends behind the core's ports (bot/core/ports.py).

`open_storage(target)` opens the SQLite file `target` names. Nothing outside
this package imports a database driver.
"""

from __future__ import annotations

from pathlib import Path

from bot.core.ports import Storage


async def open_storage(target: str | Path) -> Storage:
    """Open (and migrate) the database `target` names; StorageError says why not."""
    from bot.storage.sqlite import SqliteStorage

    return await SqliteStorage(Path(target)).open()


def backup(source: str | Path, target: Path, *, force: bool = False) -> int:
    """A consistent copy of the database `source` names at `target`; its size in bytes.

    Runs without opening the database for the bot (no migrations, read-only), so it works
    whatever state the bot and its content are in.
    """
    from bot.storage.sqlite.backup import backup_sqlite

    return backup_sqlite(Path(source), target, force=force)
