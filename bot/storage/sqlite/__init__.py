"""The SQLite backend: the embedded default, one file (see connection.py)."""

from __future__ import annotations

from bot.storage.sqlite.connection import SqliteStorage

__all__ = ["SqliteStorage"]
