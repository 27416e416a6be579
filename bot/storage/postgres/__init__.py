"""The PostgreSQL backend: several instances on one database (see connection.py)."""

from __future__ import annotations

from bot.storage.postgres.connection import PostgresStorage

__all__ = ["PostgresStorage"]
