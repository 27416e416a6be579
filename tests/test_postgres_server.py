"""The throwaway PostgreSQL server of tests/postgres_server.py: reachable, private, and gone
afterwards even when the code using it fails."""

from __future__ import annotations

import socket
from pathlib import Path

import asyncpg
import pytest

from tests.postgres_server import PostgresServer, Unavailable


async def test_the_session_server_answers_on_its_own_port_and_socket(postgres_server: PostgresServer):
    connection = await asyncpg.connect(postgres_server.dsn)
    try:
        assert await connection.fetchval("SELECT 1") == 1
        assert await connection.fetchval("SELECT current_database()") == "psoasbot"
        assert await connection.fetchval("SHOW unix_socket_directories") == str(postgres_server.socket_dir)
        assert await connection.fetchval("SHOW listen_addresses") == "127.0.0.1"
    finally:
        await connection.close()
    # The unix socket works too (what a driver uses when given the socket folder as host).
    over_socket = await asyncpg.connect(
        host=str(postgres_server.socket_dir), port=postgres_server.port, user="postgres", database="psoasbot"
    )
    try:
        assert await over_socket.fetchval("SELECT 2") == 2
    finally:
        await over_socket.close()


def running(pid: int) -> bool:
    """Alive and not a zombie (a stopped server's process lingers as one until init reaps it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_server_is_stopped_and_its_folder_deleted_even_when_the_code_using_it_fails():
    try:
        server = PostgresServer()
    except Unavailable as why:
        pytest.skip(str(why))
    with pytest.raises(RuntimeError, match="a test failed"), server:
        folder, port = server.folder, server.port
        pid = int((server.data / "postmaster.pid").read_text().split()[0])
        assert running(pid)
        raise RuntimeError("a test failed")
    assert folder is not None and not folder.exists()
    assert not running(pid)
    with socket.socket() as probe, pytest.raises(ConnectionRefusedError):
        probe.connect(("127.0.0.1", port))
