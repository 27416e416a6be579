"""`psoasbot backup`: a consistent copy of a database another process is busy writing to."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from tests.support import ROOT, rows

# Each transaction adds a user and their conversation (with a couple of KB of history, so the
# file spans many pages): a copy made mid-transaction would have a user without a conversation.
WRITER = """
import asyncio, sys
from bot.storage.sqlite import SqliteStorage as Database

def add(raw, n):
    raw.execute("INSERT INTO users (channel, external_id, created_at, updated_at) VALUES ('t', ?, '', '')", (str(n),))
    user = raw.execute("SELECT last_insert_rowid()").fetchone()[0]
    raw.execute("INSERT INTO conversations (user_id, history, updated_at) VALUES (?, ?, '')", (user, "x" * 2000))

async def main():
    async with Database(sys.argv[1]) as database:
        n = 0
        while True:
            await database.write(lambda tx: add(tx.raw, n))
            n += 1

asyncio.run(main())
"""


def backup(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "backup", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def wait_for_users(db: Path, at_least: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if db.exists():
            try:
                if rows(db, "SELECT COUNT(*) FROM users")[0][0] >= at_least:
                    return
            except sqlite3.OperationalError:  # not migrated yet
                pass
        time.sleep(0.05)
    raise AssertionError(f"the writer did not reach {at_least} users")


def test_a_backup_taken_while_another_process_writes_is_whole_and_consistent(tmp_path: Path):
    db, copy = tmp_path / "live.db", tmp_path / "backups" / "copy.db"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], cwd=ROOT)
    try:
        wait_for_users(db, 300)
        done = backup(str(copy), "--db", str(db))
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"backed up {db} to {copy} (")
        assert writer.poll() is None  # it went on writing throughout
        wait_for_users(db, rows(db, "SELECT COUNT(*) FROM users")[0][0] + 50)

        with sqlite3.connect(copy) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            users = connection.execute("SELECT COUNT(*) FROM users").fetchone()[0]
            conversations = connection.execute("SELECT COUNT(*) FROM conversations").fetchone()[0]
            orphans = connection.execute(
                "SELECT COUNT(*) FROM users u LEFT JOIN conversations c ON c.user_id = u.id "
                "WHERE c.user_id IS NULL"
            ).fetchone()[0]
            journal = connection.execute("PRAGMA journal_mode").fetchone()[0]
        assert users >= 300 and users == conversations and orphans == 0
        assert journal == "delete"  # one self-contained file, no -wal beside it
        assert sorted(p.name for p in copy.parent.iterdir()) == ["copy.db"]

        # An existing file is never overwritten by accident ...
        before = copy.read_bytes()
        refused = backup(str(copy), "--db", str(db))
        assert refused.returncode == 1
        assert refused.stderr.strip() == f"psoasbot backup: {copy} already exists; add --force to replace it"
        assert copy.read_bytes() == before
        # ... but is with --force, and the new copy has what was written since.
        assert backup(str(copy), "--db", str(db), "--force").returncode == 0
        assert rows(copy, "SELECT COUNT(*) FROM users")[0][0] > users
    finally:
        writer.kill()
        writer.wait()


def test_backup_of_a_missing_database_says_so_and_creates_nothing(tmp_path: Path):
    missing = tmp_path / "nowhere.db"
    done = backup(str(tmp_path / "copy.db"), "--db", str(missing))
    assert done.returncode == 1
    assert done.stderr.strip() == f"psoasbot backup: there is no database at {missing}"
    assert list(tmp_path.iterdir()) == []


def test_backup_of_a_postgresql_database_says_to_use_pg_dump(tmp_path: Path):
    dsn = "postgresql://psoasbot:secret@db.example.org:5433/psoasbot"
    done = backup(str(tmp_path / "copy.db"), "--db", dsn)
    assert done.returncode == 1
    message = done.stderr.strip()
    assert message.startswith(
        "psoasbot backup: postgresql://psoasbot@db.example.org:5433/psoasbot is a PostgreSQL"
    )
    assert "pg_dump --format=custom" in message and "secret" not in message
    assert list(tmp_path.iterdir()) == []
