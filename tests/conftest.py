"""Shared fixtures: no test leaves a bot process running, even when it fails half-way; some
end-to-end tests run once per HTTP client of the bot; a throwaway PostgreSQL server for the tests
that ask for `postgres_dsn`; and `storage_target` / `storage`, which run a test once on SQLite and
once on PostgreSQL (skipped, with the server fixture's reason, where no PostgreSQL binaries are
installed)."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.core.ports import Storage
from tests.telegram_support import BOTH_HTTP_CLIENTS, HTTP_CLIENTS, RUNNING

pytest_plugins = ("tests.postgres_server",)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if metafunc.definition.nodeid in BOTH_HTTP_CLIENTS:
        metafunc.parametrize("http_client", HTTP_CLIENTS, indirect=True)


@pytest.fixture(autouse=True)
def http_client(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The request class the bot processes of this test use: the parameter for the tests in
    BOTH_HTTP_CLIENTS, else PSOASBOT_HTTP as given to pytest, else the bot's default."""
    chosen = getattr(request, "param", None)
    if chosen is not None:
        monkeypatch.setenv("PSOASBOT_HTTP", chosen)
    return os.environ.get("PSOASBOT_HTTP") or HTTP_CLIENTS[0]


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
