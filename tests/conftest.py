"""Shared fixtures: no test leaves a bot process running, even when it fails half-way; some
end-to-end tests run once per HTTP client of the bot; and a throwaway PostgreSQL server for the
tests that ask for `postgres_dsn`."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator

import pytest

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
