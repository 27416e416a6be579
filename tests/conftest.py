"""Shared fixtures: no test leaves a bot process running, even when it fails half-way; a
throwaway PostgreSQL server for the tests that ask for `postgres_dsn`; and `storage_target` /
`storage`, which run a test once on SQLite and once on PostgreSQL (skipped, with the server
fixture's reason, where no PostgreSQL binaries are installed)."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.core.ports import Storage
from tests.telegram_support import RUNNING

pytest_plugins = ("tests.postgres_server",)


@pytest.fixture(autouse=True)
def kill_leftover_bots() -> Iterator[None]:
    yield
    while RUNNING:
        process = RUNNING.pop().process
        if process is not None and process.returncode is None:
            # The test's event loop may be gone already, so signal the pid directly.
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)


@pytest.fixture(params=["sqlite", "postgres"])
def storage_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a fresh database for one test lives: an SQLite file, or a new PostgreSQL
    database (a copy of one migrated once per session) on the session's private server."""
    if request.param == "sqlite":
        return str(tmp_path / "bot.db")
    dsn: str = request.getfixturevalue("postgres_database")
    return dsn


@pytest.fixture
async def storage(storage_target: str) -> AsyncIterator[Storage]:
    """The backend under test, open and migrated."""
    from bot.storage import open_storage

    opened = await open_storage(storage_target)
    try:
        yield opened
    finally:
        await opened.close()
