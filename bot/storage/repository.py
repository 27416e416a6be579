"""Reading and writing conversations, checks, answers and assessments.

Functions take an open connection inside a transaction from `Database.write`,
so one user input is one transaction however many tables it touches. Values
are stored as JSON text so answers of any shape round-trip exactly.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import aiosqlite

from bot.core.engine import Snapshot
from bot.core.triage import TriageResult


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


async def user_id_for(connection: aiosqlite.Connection, channel: str, external_id: str) -> int:
    """The user's id, creating the user on first contact."""
    async with connection.execute(
        "SELECT id FROM users WHERE channel = ? AND external_id = ?", (channel, external_id)
    ) as cursor:
        row = await cursor.fetchone()
    if row is not None:
        return int(row[0])
    stamp = now()
    cursor = await connection.execute(
        "INSERT INTO users (channel, external_id, created_at, updated_at) VALUES (?, ?, ?, ?)",
        (channel, external_id, stamp, stamp),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


async def load_snapshot(connection: aiosqlite.Connection, user_id: int) -> Snapshot:
    async with connection.execute(
        "SELECT state, step, history, pending, check_id, result FROM conversations WHERE user_id = ?",
        (user_id,),
    ) as cursor:
        row = await cursor.fetchone()
    if row is None:
        return Snapshot()
    state, step, history, pending, check_id, result = row
    answers: dict[str, Any] = {}
    if check_id is not None:
        async with connection.execute(
            "SELECT key, value FROM answers WHERE check_id = ?", (check_id,)
        ) as cursor:
            answers = {key: json.loads(value) async for key, value in cursor}
    return Snapshot(
        state=state,
        step=int(step),
        history=tuple(json.loads(history)),
        answers=answers,
        pending=tuple(json.loads(pending)),
        check_id=check_id,
        result=json.loads(result) if result else None,
    )


async def save_snapshot(
    connection: aiosqlite.Connection, user_id: int, before: Snapshot, after: Snapshot
) -> None:
    """Write the conversation row and whichever answers changed."""
    stamp = now()
    if after.check_id is not None:
        previous = before.answers if before.check_id == after.check_id else {}
        changed = [
            (after.check_id, key, json.dumps(value), stamp)
            for key, value in after.answers.items()
            if key not in previous or previous[key] != value
        ]
        if changed:
            await connection.executemany(
                "INSERT INTO answers (check_id, key, value, answered_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (check_id, key) DO UPDATE SET value = excluded.value, "
                "answered_at = excluded.answered_at",
                changed,
            )
    await connection.execute(
        "INSERT INTO conversations (user_id, check_id, state, step, history, pending, result, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
        "check_id = excluded.check_id, state = excluded.state, step = excluded.step, "
        "history = excluded.history, pending = excluded.pending, result = excluded.result, "
        "updated_at = excluded.updated_at",
        (
            user_id,
            after.check_id,
            after.state,
            after.step,
            json.dumps(list(after.history)),
            json.dumps(list(after.pending)),
            json.dumps(after.result) if after.result is not None else None,
            stamp,
        ),
    )


async def open_check(connection: aiosqlite.Connection, user_id: int, flow: str) -> int:
    cursor = await connection.execute(
        "INSERT INTO checks (user_id, flow, status, started_at) VALUES (?, ?, 'in_progress', ?)",
        (user_id, flow, now()),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


async def close_check(connection: aiosqlite.Connection, check_id: int, status: str) -> None:
    await connection.execute(
        "UPDATE checks SET status = ?, finished_at = ? WHERE id = ? AND status = 'in_progress'",
        (status, now(), check_id),
    )


async def save_assessment(
    connection: aiosqlite.Connection,
    user_id: int,
    check_id: int | None,
    result: TriageResult,
    routine_id: str | None,
) -> None:
    await connection.execute(
        "INSERT INTO assessments (user_id, check_id, urgency, reasons, ball_release_allowed, "
        "routine, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            user_id,
            check_id,
            result.urgency,
            json.dumps(list(result.reasons + result.contraindications)),
            int(result.ball_release_allowed),
            routine_id,
            now(),
        ),
    )


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
