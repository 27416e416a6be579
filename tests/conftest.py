"""Shared fixtures: no test leaves a bot process running, even when it fails half-way; and a
throwaway PostgreSQL server for the tests that ask for `postgres_dsn`."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator

import pytest

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
