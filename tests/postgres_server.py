"""A throwaway PostgreSQL server for tests, from the machine's own binaries.

`postgres_dsn` (session scope) starts one private server for the whole test session:
a fresh cluster in a temporary folder, listening on 127.0.0.1 on a free port and on a
unix socket in a folder of its own (never the system's /var/run/postgresql), with
durability switched off because nothing in it needs to outlive the session. It yields
`postgresql://postgres@127.0.0.1:PORT/psoasbot` and stops the server (and deletes the
folder) when the session ends, whether the tests passed or not.

initdb refuses to run as root, and CI runs as root: then initdb and pg_ctl run as the
`postgres` user (`runuser -u postgres`) in a folder that user owns. As anyone else they
run directly. Where no server binaries are installed, tests that use the fixture are
skipped with a reason saying what to install (`.ci/run` installs Debian's postgresql).

Registered for every test module in tests/conftest.py (`pytest_plugins`).
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

DATABASE = "psoasbot"
SUPERUSER = "postgres"
SERVER_USER = "postgres"
"""The system account that runs the server when the tests run as root."""
DEBIAN_BINARIES = Path("/usr/lib/postgresql")
NOT_INSTALLED = (
    "no PostgreSQL server binaries (initdb, pg_ctl) on PATH or under /usr/lib/postgresql/*/bin; "
    "install them (Debian: apt-get install postgresql) to run the PostgreSQL tests"
)


class Unavailable(Exception):
    """This machine cannot run a private server; the message says why (the tests are skipped)."""


def find_binaries() -> Path:
    """The folder holding initdb, pg_ctl and postgres: PATH first, then Debian's layout
    (/usr/lib/postgresql/<major>/bin, newest major first)."""
    candidates: list[Path] = []
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    if DEBIAN_BINARIES.is_dir():
        majors = [p for p in DEBIAN_BINARIES.iterdir() if re.fullmatch(r"\d+", p.name)]
        candidates += [p / "bin" for p in sorted(majors, key=lambda p: int(p.name), reverse=True)]
    for folder in candidates:
        if all((folder / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return folder
    raise Unavailable(NOT_INSTALLED)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresServer:
    """One private server; `with PostgresServer() as server:` starts and always stops it."""

    def __init__(self) -> None:
        self.binaries = find_binaries()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            try:
                self._server_user = pwd.getpwnam(SERVER_USER)
            except KeyError:
                raise Unavailable(
                    f"running as root, and initdb refuses root, but there is no {SERVER_USER!r} "
                    "user to run the server as"
                ) from None
            if shutil.which("runuser") is None:
                raise Unavailable("running as root, and runuser (util-linux) is not installed")
        self.port = free_port()
        self.folder: Path | None = None

    # The folder goes in the system temp dir (world-traversable, short enough for a socket
    # path) rather than pytest's tmp_path, which root's umask keeps closed to other users.
    @property
    def data(self) -> Path:
        assert self.folder is not None
        return self.folder / "data"

    @property
    def socket_dir(self) -> Path:
        assert self.folder is not None
        return self.folder / "sockets"

    @property
    def log(self) -> Path:
        assert self.folder is not None
        return self.folder / "server.log"

    @property
    def dsn(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"

    def start(self) -> PostgresServer:
        self.folder = Path(tempfile.mkdtemp(prefix="psoasbot-pg-"))
        self.socket_dir.mkdir()
        if self.as_root:
            for path in (self.folder, self.socket_dir):
                os.chown(path, self._server_user.pw_uid, self._server_user.pw_gid)
        try:
            self._run(
                "initdb",
                f"--pgdata={self.data}",
                f"--username={SUPERUSER}",
                "--auth=trust",  # only this user can reach the socket; TCP is loopback-only
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            )
            self._start_server()
            self._run(
                "createdb",
                f"--host={self.socket_dir}",
                f"--port={self.port}",
                f"--username={SUPERUSER}",
                DATABASE,
            )
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def options(self) -> str:
        return (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )

    def _start_server(self) -> None:
        self._run(
            "pg_ctl",
            "start",
            "--wait",
            "--timeout=60",
            f"--pgdata={self.data}",
            f"--log={self.log}",
            "-o",
            self.options,
        )

    def restart(self, down_seconds: float = 0.0) -> None:
        """Stop the server as a crash or an operator would (every connection is cut), stay
        down for `down_seconds`, and start it again on the same port with the same data."""
        import time

        self._run("pg_ctl", "stop", "--wait", "--timeout=60", "--mode=fast", f"--pgdata={self.data}")
        time.sleep(down_seconds)
        self._start_server()

    def stop(self) -> None:
        """Stop at once (nothing in it needs a clean shutdown) and delete the folder."""
        if self.folder is None:
            return
        if (self.data / "postmaster.pid").exists():
            self._run(
                "pg_ctl",
                "stop",
                "--wait",
                "--timeout=60",
                "--mode=immediate",
                f"--pgdata={self.data}",
                check=False,
            )
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.binaries / tool), *args]
        if self.as_root:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=120, cwd=self.folder, stdin=subprocess.DEVNULL
        )
        if check and done.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.folder and self.log.exists() else ""
            raise RuntimeError(f"{tool} failed ({done.returncode}):\n{done.stdout}{done.stderr}{log}")
        return done


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        server = PostgresServer()
    except Unavailable as why:
        pytest.skip(str(why))
    with server:
        yield server


@pytest.fixture(scope="session")
def postgres_dsn(postgres_server: PostgresServer) -> str:
    """`postgresql://...` of a private server started once for the whole session."""
    return postgres_server.dsn


_TEMPLATE = "psoasbot_template"
_made: list[int] = [0]


def _admin(dsn: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as connection:
        for statement in statements:
            connection.execute(statement)


@pytest.fixture(scope="session")
def postgres_template(postgres_dsn: str) -> str:
    """A database migrated once for the session, copied for each test that wants a fresh one."""
    import asyncio

    from bot.storage.postgres import PostgresStorage

    _admin(postgres_dsn, f"DROP DATABASE IF EXISTS {_TEMPLATE}", f"CREATE DATABASE {_TEMPLATE}")
    target = postgres_dsn.rsplit("/", 1)[0] + f"/{_TEMPLATE}"

    async def migrate() -> None:
        async with PostgresStorage(target):
            pass

    asyncio.run(migrate())
    return _TEMPLATE


def fresh_database(postgres_dsn: str, template: str | None = None) -> str:
    """A new, empty database on the session server (a copy of `template` when given); its DSN.
    Copying a migrated template takes a few milliseconds, far less than migrating."""
    _made[0] += 1
    name = f"psoasbot_{os.getpid()}_{_made[0]}"
    source = f" TEMPLATE {template}" if template else ""
    _admin(postgres_dsn, f"CREATE DATABASE {name}{source}")
    return postgres_dsn.rsplit("/", 1)[0] + f"/{name}"


def drop_database(postgres_dsn: str, dsn: str) -> None:
    name = dsn.rsplit("/", 1)[1]
    _admin(postgres_dsn, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def postgres_database(postgres_dsn: str, postgres_template: str) -> Iterator[str]:
    """The DSN of a fresh, migrated database of its own for one test, dropped afterwards."""
    dsn = fresh_database(postgres_dsn, postgres_template)
    try:
        yield dsn
    finally:
        drop_database(postgres_dsn, dsn)
