"""Stored users, seeded straight into the tables with executemany (fast), after the
bot's own migrations have made the schema.

Each seeded user looks like someone who finished one typical check and set
reminders: a users row, the finished conversation, one completed check with its
answers (as the engine stores them), one assessment, a plan, a session reminder
(due some time in the coming week) and a weekly check-in reminder, one past
session and check-in, the inbox keys of the 16 updates of the check and two
sent outbox rows. Telegram ids of seeded users start at SEED_CHAT_BASE.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import shutil
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import ROOT

SEED_CHAT_BASE = 10_000_000
_SNAPSHOT: dict[str, Any] | None = None


def typical_check() -> dict[str, Any]:
    """The stored shape of one finished typical check, taken from the real engine."""
    global _SNAPSHOT
    if _SNAPSHOT is None:
        from bench.conversation import PSOASBOT_SCRIPT
        from bot.core.app import build_core
        from bot.core.events import Press, Start
        from bot.core.records import Snapshot
        from bot.core.replies import reply_to_dict

        core = build_core(ROOT / "content", ROOT / "flows", offer_reminders=True)
        outcome = core.engine.step(Snapshot(), Start())
        snapshot = outcome.snapshot
        for step in PSOASBOT_SCRIPT[1:]:
            outcome = core.engine.step(snapshot, Press(button_data(outcome.replies, step.payload)))
            snapshot = outcome.snapshot
        _SNAPSHOT = {
            "state": snapshot.state,
            "step": snapshot.step,
            "answers": snapshot.answers,
            "result": snapshot.result,
            "replies": [reply_to_dict(reply) for reply in outcome.replies],
        }
    return _SNAPSHOT


def button_data(replies: Any, label: str) -> str:
    """The data of the button labelled `label` (or containing it) on the last question."""
    from bot.core.replies import ReplyKind

    questions = [reply for reply in replies if reply.kind is ReplyKind.QUESTION]
    if not questions:
        raise LookupError(f"no question to press {label!r} on")
    buttons = [(b.label, b.data) for b in questions[-1].all_buttons]
    found = next((d for t, d in buttons if t == label), None) or next(
        (d for t, d in buttons if label in t), None
    )
    if found is None:
        raise LookupError(f"no button {label!r} in {[t for t, _ in buttons]}")
    return found


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _run_alone(coroutine: Any) -> None:
    """asyncio.run, also from inside a running event loop (in a thread of its own then)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coroutine)
        return
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coroutine).result()


async def _migrate(path: Path) -> None:
    from bot.storage.sqlite import SqliteStorage

    async with SqliteStorage(path):
        pass


def seed(path: Path, users: int, *, start: datetime | None = None) -> dict[str, float]:
    """Create a database at `path` holding `users` stored users; returns counts and seconds.

    Rows are generated inside SQLite (INSERT ... SELECT over a counter), which is
    several times faster than building them in Python.
    """
    began = time.monotonic()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    _run_alone(_migrate(path))
    check = typical_check()
    now = start or datetime.now(UTC)
    short_payload = json.dumps(
        {"kind": "question", "text": "How old are you? Tap a range or type your age.", "title": None,
         "buttons": [[["10:o0", "Under 18", False], ["10:o1", "18 to 29", False]],
                     [["10:o2", "30 to 49", False], ["10:o3", "50 to 64", False]],
                     [["10:back", "« Back", False]]],
         "choices": [], "edit": False, "multi": False}
    )  # fmt: skip
    params = {
        "n": users,
        "base": SEED_CHAT_BASE,
        "stamp": now.isoformat(timespec="milliseconds"),
        "epoch": int(now.timestamp()),
        "past": iso(now - timedelta(days=2)),
        "state": check["state"],
        "step": check["step"],
        "result": json.dumps(check["result"]),
        "routine": check["result"]["routine"],
        "payload": short_payload,
        "days": json.dumps(["mon", "wed", "fri"]),
    }
    counter = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :n) "
    statements = [
        counter + "INSERT INTO users (id, channel, external_id, created_at, updated_at, timezone) "
        "SELECT i, 'telegram', CAST(:base + i AS TEXT), :stamp, :stamp, 'Europe/Berlin' FROM n",
        "INSERT INTO checks (id, user_id, flow, status, started_at, finished_at) "
        "SELECT id, id, 'symptom_check', 'completed', :stamp, :stamp FROM users",
        "INSERT INTO answers (check_id, key, value, answered_at) "
        "SELECT c.id, a.key, a.value, :stamp FROM checks c, temp.seed_answers a ORDER BY c.id, a.key",
        "INSERT INTO conversations (user_id, check_id, state, step, history, pending, result, flow, context, "
        "updated_at) SELECT id, id, :state, :step, '[]', '[]', :result, 'symptom_check', '{}', :stamp FROM users",
        "INSERT INTO assessments (user_id, check_id, urgency, reasons, ball_release_allowed, routine, created_at) "
        "SELECT id, id, 'SELF_CARE', '[]', 1, :routine, :stamp FROM users",
        "INSERT INTO transport_state (user_id, question_message_id) SELECT id, 2 FROM users",
        "INSERT INTO inbox (key, user_id, received_at) "
        "SELECT 'update:' || (u.id * 16 + k.k), u.id, :stamp FROM users u, temp.seed_k k ORDER BY 1",
        "INSERT INTO outbox (user_id, payload, context, created_at, sent_at) "
        "SELECT u.id, :payload, '{\"pressed_message_id\": 2}', :stamp, :stamp FROM users u, temp.seed_k k "
        "WHERE k.k < 2 ORDER BY u.id",
        "INSERT INTO plans (user_id, state, routine, level, baseline_pain, reference_pain, reference_at, "
        "started_at, assessed_ball, ball_withdrawn, updated_at) "
        "SELECT id, 'active', :routine, 0, 3, 3, :past, :past, 1, 0, :stamp FROM users",
        # Session reminders spread over the coming week (never due during a run unless made so).
        "INSERT INTO reminders (id, user_id, kind, days, local_time, timezone, status, due_at, created_at, "
        "updated_at) SELECT 2 * id - 1, id, 'session', :days, '07:30', 'Europe/Berlin', 'active', "
        "strftime('%Y-%m-%dT%H:%M:%S+00:00', :epoch + 7200 + (id * 5) % 600000, 'unixepoch'), :stamp, :stamp "
        "FROM users",
        "INSERT INTO reminders (id, user_id, kind, days, local_time, timezone, status, due_at, created_at, "
        "updated_at) SELECT 2 * id, id, 'weekly_checkin', '[\"sun\"]', '18:00', 'Europe/Berlin', 'active', "
        "strftime('%Y-%m-%dT%H:%M:%S+00:00', :epoch + 10800 + (id * 7) % 600000, 'unixepoch'), :stamp, :stamp "
        "FROM users",
        "INSERT INTO sessions (user_id, reminder_id, occurrence, routine, outcome, created_at, updated_at) "
        "SELECT id, 2 * id - 1, :past, :routine, 'done', :stamp, :stamp FROM users",
        "INSERT INTO checkins (user_id, reminder_id, kind, occurrence, pain_now, pain_worst, answered_at, "
        "created_at) SELECT id, NULL, 'day_after', :past, 3, 4, :stamp, :stamp FROM users",
    ]
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = OFF")
    connection.execute("PRAGMA synchronous = OFF")
    connection.execute("PRAGMA foreign_keys = OFF")
    connection.execute("PRAGMA cache_size = -400000")
    connection.execute("CREATE TEMP TABLE seed_answers (key TEXT PRIMARY KEY, value TEXT)")
    connection.executemany(
        "INSERT INTO temp.seed_answers VALUES (?, ?)",
        [(key, json.dumps(value)) for key, value in check["answers"].items()],
    )
    connection.execute("CREATE TEMP TABLE seed_k (k INTEGER PRIMARY KEY)")
    connection.executemany("INSERT INTO temp.seed_k VALUES (?)", [(k,) for k in range(16)])
    connection.execute("BEGIN")
    for statement in statements:
        names = {name for name in params if f":{name}" in statement}
        connection.execute(statement, {name: params[name] for name in names})
    connection.execute("COMMIT")
    connection.execute("PRAGMA journal_mode = WAL")
    connection.close()
    return {
        "users": users,
        "seconds": time.monotonic() - began,
        "file_mb": path.stat().st_size / 1024 / 1024,
    }


def make_due(path: Path, count: int, due_at: datetime, *, zone: str = "UTC") -> list[int]:
    """Make the session reminders of the first `count` seeded users due at `due_at`
    (every day at that wall time, so the next one is a day later); returns their chat ids."""
    connection = sqlite3.connect(path, isolation_level=None)
    local = due_at.astimezone(UTC).strftime("%H:%M")
    all_days = json.dumps(["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
    connection.execute("BEGIN")
    connection.executemany(
        "UPDATE reminders SET due_at = ?, local_time = ?, timezone = ?, days = ? WHERE id = ?",
        ((iso(due_at), local, zone, all_days, 2 * i - 1) for i in range(1, count + 1)),
    )
    connection.execute("COMMIT")
    connection.close()
    return [SEED_CHAT_BASE + i for i in range(1, count + 1)]


def copy_database(template: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(template, target)
    return target
