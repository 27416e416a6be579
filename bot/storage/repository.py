"""Reading and writing conversations, checks, answers and assessments.

Functions take an open connection inside a transaction from `Database.write`
(async, an aiosqlite connection) or `Database.write_sync` (the `*_sync` ones, the
raw sqlite3 connection on aiosqlite's thread), so one user input is one
transaction however many tables it touches. Values are stored as JSON text so
answers of any shape round-trip exactly.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import aiosqlite

from bot.core.engine import Snapshot
from bot.core.triage import TriageResult
from bot.storage.database import on_connection


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


# ---------------------------------------------------------------- the conversation step
#
# A step's reads and writes are plain functions of the raw sqlite3 connection, run
# together on aiosqlite's thread by `Database.write_sync` (one hand-off per step, not
# one per statement). The async functions other code calls wrap the same functions
# with `on_connection`, so each statement's SQL is written once. `stamp` is the step's
# time (`now()`), taken once for all of its rows.

_FIND_USER = "SELECT id FROM users WHERE channel = ? AND external_id = ?"
# The conversation, the user's time zone and the current check's answers in one
# statement; the answers come as one JSON object built from their stored JSON texts
# (so they round-trip exactly, as json.loads of each would) and are decoded in one call.
_CONVERSATION = (
    "SELECT u.id, c.state, c.step, c.history, c.pending, c.check_id, c.result, c.flow, c.context, "
    "u.timezone, (SELECT '{' || group_concat(json_quote(a.key) || ':' || a.value, ',') || '}' "
    "FROM answers a WHERE a.check_id = c.check_id) "
    "FROM users u LEFT JOIN conversations c ON c.user_id = u.id WHERE "
)


# Replies keep their text readable in the database (json.dumps(..., ensure_ascii=False)
# builds a new encoder on every call; this one is built once).
_PAYLOAD = json.JSONEncoder(ensure_ascii=False)


def _json(value: Any) -> str:
    """json.dumps(value), without its overhead for the yes/no answers most answers are."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    return json.dumps(value)


def find_user_sync(raw: sqlite3.Connection, channel: str, external_id: str) -> int | None:
    row = raw.execute(_FIND_USER, (channel, external_id)).fetchone()
    return int(row[0]) if row else None


def user_id_for_sync(raw: sqlite3.Connection, channel: str, external_id: str) -> int:
    """The user's id, creating the user on first contact."""
    found = find_user_sync(raw, channel, external_id)
    return found if found is not None else _create_user(raw, channel, external_id, now())


def _create_user(raw: sqlite3.Connection, channel: str, external_id: str, stamp: str) -> int:
    cursor = raw.execute(
        "INSERT INTO users (channel, external_id, created_at, updated_at) VALUES (?, ?, ?, ?)",
        (channel, external_id, stamp, stamp),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def user_and_snapshot_sync(
    raw: sqlite3.Connection, channel: str, external_id: str, *, stamp: str
) -> tuple[int, Snapshot]:
    """The user's id and stored conversation, creating the user on first contact."""
    row = raw.execute(
        _CONVERSATION + "u.channel = ? AND u.external_id = ?", (channel, external_id)
    ).fetchone()
    if row is None:
        return _create_user(raw, channel, external_id, stamp), Snapshot()
    return int(row[0]), _snapshot(row)


def load_snapshot_sync(raw: sqlite3.Connection, user_id: int) -> Snapshot:
    row = raw.execute(_CONVERSATION + "u.id = ?", (user_id,)).fetchone()
    return Snapshot() if row is None else _snapshot(row)


def _snapshot(row: tuple[Any, ...]) -> Snapshot:
    _user_id, state, step, history, pending, check_id, result, flow, context, timezone, answers = row
    if step is None:  # a user with no conversation yet
        return Snapshot(context={"timezone": timezone} if timezone else {})
    loaded_context = json.loads(context) if context else {}
    if timezone:
        loaded_context["timezone"] = timezone
    return Snapshot(
        state=state,
        step=int(step),
        history=tuple(json.loads(history)),
        answers=json.loads(answers) if answers else {},
        pending=tuple(json.loads(pending)),
        check_id=check_id,
        result=json.loads(result) if result else None,
        flow=flow or "symptom_check",
        context=loaded_context,
    )


def save_snapshot_sync(
    raw: sqlite3.Connection, user_id: int, before: Snapshot, after: Snapshot, *, stamp: str
) -> None:
    """Write the conversation row and whichever answers changed."""
    if after.check_id is not None:
        previous = before.answers if before.check_id == after.check_id else {}
        changed = [
            (after.check_id, key, _json(value), stamp)
            for key, value in after.answers.items()
            if key not in previous or previous[key] != value
        ]
        if changed:
            raw.executemany(
                "INSERT INTO answers (check_id, key, value, answered_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (check_id, key) DO UPDATE SET value = excluded.value, "
                "answered_at = excluded.answered_at",
                changed,
            )
    raw.execute(
        "INSERT INTO conversations (user_id, check_id, state, step, history, pending, result, flow, context, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
        "check_id = excluded.check_id, state = excluded.state, step = excluded.step, "
        "history = excluded.history, pending = excluded.pending, result = excluded.result, "
        "flow = excluded.flow, context = excluded.context, updated_at = excluded.updated_at",
        (
            user_id,
            after.check_id,
            after.state,
            after.step,
            json.dumps(list(after.history)),
            json.dumps(list(after.pending)),
            json.dumps(after.result) if after.result is not None else None,
            after.flow,
            json.dumps(after.context),
            stamp,
        ),
    )


def open_check_sync(raw: sqlite3.Connection, user_id: int, flow: str, *, stamp: str) -> int:
    cursor = raw.execute(
        "INSERT INTO checks (user_id, flow, status, started_at) VALUES (?, ?, 'in_progress', ?)",
        (user_id, flow, stamp),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def close_check_sync(raw: sqlite3.Connection, check_id: int, status: str, *, stamp: str) -> None:
    raw.execute(
        "UPDATE checks SET status = ?, finished_at = ? WHERE id = ? AND status = 'in_progress'",
        (status, stamp, check_id),
    )


def save_assessment_sync(
    raw: sqlite3.Connection,
    user_id: int,
    check_id: int | None,
    result: TriageResult,
    routine_id: str | None,
    *,
    stamp: str,
) -> None:
    raw.execute(
        "INSERT INTO assessments (user_id, check_id, urgency, reasons, ball_release_allowed, "
        "routine, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            user_id,
            check_id,
            result.urgency,
            json.dumps(list(result.reasons + result.contraindications)),
            int(result.ball_release_allowed),
            routine_id,
            stamp,
        ),
    )


def claim_inbox_sync(raw: sqlite3.Connection, key: str, user_id: int, *, stamp: str) -> bool:
    """Record an input by its transport key; False when it was already handled."""
    cursor = raw.execute(
        "INSERT OR IGNORE INTO inbox (key, user_id, received_at) VALUES (?, ?, ?)", (key, user_id, stamp)
    )
    return cursor.rowcount == 1


def add_to_outbox_sync(
    raw: sqlite3.Connection,
    user_id: int,
    payloads: list[dict[str, Any]],
    context: dict[str, Any],
    *,
    stamp: str,
) -> list[int]:
    """Queue replies in order; returns their ids, in the same order.

    One INSERT per reply rather than executemany: executemany cannot say which
    id each row got, and on this thread a statement costs microseconds, not a hop.
    """
    context_text = json.dumps(context)
    ids: list[int] = []
    for payload in payloads:
        cursor = raw.execute(
            "INSERT INTO outbox (user_id, payload, context, created_at) VALUES (?, ?, ?, ?)",
            (user_id, _PAYLOAD.encode(payload), context_text, stamp),
        )
        assert cursor.lastrowid is not None
        ids.append(cursor.lastrowid)
    return ids


# The same, for code that holds an aiosqlite connection (one hand-off each).

find_user = on_connection(find_user_sync)
user_id_for = on_connection(user_id_for_sync)
load_snapshot = on_connection(load_snapshot_sync)


async def assessments_of(connection: aiosqlite.Connection, user_id: int) -> list[dict[str, Any]]:
    async with connection.execute(
        "SELECT urgency, reasons, ball_release_allowed, routine, created_at, check_id "
        "FROM assessments WHERE user_id = ? ORDER BY id",
        (user_id,),
    ) as cursor:
        return [
            {
                "urgency": urgency,
                "reasons": json.loads(reasons),
                "ball_release_allowed": bool(ball),
                "routine": routine,
                "created_at": created_at,
                "check_id": check_id,
            }
            async for urgency, reasons, ball, routine, created_at, check_id in cursor
        ]


def lease_unsent_sync(
    raw: sqlite3.Connection, user_id: int, lease_seconds: float
) -> tuple[list[tuple[int, dict[str, Any], dict[str, Any]]], int | None]:
    """Take the user's unsent replies for sending, oldest first, and where their current
    question message is (so the sender can edit it in place).

    Each is leased for `lease_seconds`, so another process on the same database
    leaves them alone while this one sends; if this one dies, the lease runs out
    and the rows are sent by whoever looks next. Rows behind a held one wait, so
    order is kept even across a crash (at the cost of waiting out the lease).
    """
    stamp = datetime.now(UTC)
    now_text = stamp.isoformat(timespec="milliseconds")
    rows: list[tuple[int, dict[str, Any], dict[str, Any]]] = []
    for row_id, payload, context, lease_until in raw.execute(
        "SELECT id, payload, context, lease_until FROM outbox WHERE user_id = ? AND sent_at IS NULL ORDER BY id",
        (user_id,),
    ):
        if lease_until is not None and lease_until >= now_text:
            # An older reply is still held (by another process, or one that died):
            # newer ones wait behind it, so the user never sees replies out of order.
            break
        rows.append((row_id, json.loads(payload), json.loads(context)))
    if rows:
        until = (stamp + timedelta(seconds=lease_seconds)).isoformat(timespec="milliseconds")
        raw.execute(
            f"UPDATE outbox SET lease_until = ? WHERE id IN ({','.join('?' for _ in rows)})",
            (until, *(row[0] for row in rows)),
        )
    found = raw.execute(
        "SELECT question_message_id FROM transport_state WHERE user_id = ?", (user_id,)
    ).fetchone()
    return rows, (int(found[0]) if found and found[0] is not None else None)


def mark_sent_sync(raw: sqlite3.Connection, outbox_id: int, user_id: int, question_message_id: int | None) -> None:
    """One reply is out: mark it sent and remember where the user's question now is."""
    raw.execute("UPDATE outbox SET sent_at = ? WHERE id = ?", (now(), outbox_id))
    raw.execute(
        "INSERT INTO transport_state (user_id, question_message_id) VALUES (?, ?) "
        "ON CONFLICT (user_id) DO UPDATE SET question_message_id = excluded.question_message_id",
        (user_id, question_message_id),
    )


async def users_with_unsent(connection: aiosqlite.Connection, channel: str) -> list[tuple[int, str]]:
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
    async with connection.execute(
        "SELECT DISTINCT u.id, u.external_id FROM outbox o JOIN users u ON u.id = o.user_id "
        "WHERE o.sent_at IS NULL AND u.channel = ? AND (o.lease_until IS NULL OR o.lease_until < ?)",
        (channel, stamp),
    ) as cursor:
        return [(int(user_id), str(external_id)) async for user_id, external_id in cursor]


def note_parts_sent_sync(raw: sqlite3.Connection, outbox_id: int, parts: int) -> None:
    """Remember how much of a long, split reply is out, so a restart sends only the rest."""
    raw.execute(
        "UPDATE outbox SET context = json_set(context, '$.parts_sent', ?) WHERE id = ?", (parts, outbox_id)
    )


async def drop_unsent(connection: aiosqlite.Connection, user_id: int) -> None:
    """Forget replies that can never be delivered (the user blocked the bot)."""
    await connection.execute(
        "UPDATE outbox SET sent_at = ? WHERE user_id = ? AND sent_at IS NULL", (f"dropped {now()}", user_id)
    )


async def set_active(connection: aiosqlite.Connection, user_id: int, active: bool) -> None:
    await connection.execute(
        "UPDATE users SET active = ?, updated_at = ? WHERE id = ?", (int(active), now(), user_id)
    )


async def export_user(connection: aiosqlite.Connection, user_id: int) -> dict[str, Any]:
    """Everything stored about one user, as plain data (for /mydata)."""

    async def rows(sql: str) -> list[dict[str, Any]]:
        async with connection.execute(sql, (user_id,)) as cursor:
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) async for row in cursor]

    exported: dict[str, Any] = {
        "user": (
            await rows(
                "SELECT channel, external_id, language, active, created_at, updated_at "
                "FROM users WHERE id = ?"
            )
        ),
        "conversation": await rows(
            "SELECT state, step, history, pending, result, updated_at FROM conversations WHERE user_id = ?"
        ),
        "checks": await rows(
            "SELECT id, flow, status, started_at, finished_at FROM checks WHERE user_id = ?"
        ),
        "answers": await rows(
            "SELECT a.check_id, a.key, a.value, a.answered_at FROM answers a "
            "JOIN checks c ON c.id = a.check_id WHERE c.user_id = ? ORDER BY a.check_id, a.key"
        ),
        "assessments": await assessments_of(connection, user_id),
    }
    for answer in exported["answers"]:
        answer["value"] = json.loads(answer["value"])
    return exported


async def delete_user(connection: aiosqlite.Connection, user_id: int) -> None:
    """Delete the user and, through foreign keys, everything that belongs to them."""
    await connection.execute("DELETE FROM inbox WHERE user_id = ?", (user_id,))
    await connection.execute("DELETE FROM users WHERE id = ?", (user_id,))
