"""Reminders, sessions, check-ins and plans in the database.

Times are stored in UTC (ISO 8601); each reminder keeps its local wall time and
IANA zone, and `due_at` is always derived from them, so a daylight-saving change
moves nothing the user did not ask for. Like repository.py, every function runs
inside the caller's transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiosqlite

from bot.core.clock import LocalTime, next_occurrence
from bot.storage.repository import now as now_text


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@dataclass(frozen=True)
class Reminder:
    id: int
    user_id: int
    kind: str
    days: tuple[str, ...]
    local_time: str
    timezone: str
    status: str
    due_at: datetime | None
    ref_session: int | None

    def next_due(self, after: datetime) -> datetime:
        time = LocalTime.parse(self.local_time)
        assert time is not None
        return next_occurrence(self.days, time, self.timezone, after)


@dataclass(frozen=True)
class DueReminder:
    reminder: Reminder
    external_id: str
    channel: str
    active: bool


_REMINDER_COLUMNS = "id, user_id, kind, days, local_time, timezone, status, due_at, ref_session"


def _reminder(row: Any) -> Reminder:
    rid, user_id, kind, days, local_time, timezone, status, due_at, ref_session = row
    return Reminder(
        id=int(rid),
        user_id=int(user_id),
        kind=str(kind),
        days=tuple(json.loads(days)),
        local_time=str(local_time),
        timezone=str(timezone),
        status=str(status),
        due_at=parse_time(due_at) if due_at else None,
        ref_session=ref_session,
    )


async def add_reminder(
    connection: aiosqlite.Connection,
    user_id: int,
    kind: str,
    days: tuple[str, ...],
    local_time: str,
    timezone: str,
    due_at: datetime,
    ref_session: int | None = None,
) -> int:
    stamp = now_text()
    cursor = await connection.execute(
        "INSERT INTO reminders (user_id, kind, days, local_time, timezone, status, due_at, ref_session, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?, ?)",
        (user_id, kind, json.dumps(list(days)), local_time, timezone, iso(due_at), ref_session, stamp, stamp),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


async def reminders_of(
    connection: aiosqlite.Connection, user_id: int, kinds: tuple[str, ...] = ()
) -> list[Reminder]:
    sql = f"SELECT {_REMINDER_COLUMNS} FROM reminders WHERE user_id = ? AND status != 'finished'"
    params: list[Any] = [user_id]
    if kinds:
        sql += f" AND kind IN ({','.join('?' for _ in kinds)})"
        params.extend(kinds)
    async with connection.execute(sql + " ORDER BY id", params) as cursor:
        return [_reminder(row) async for row in cursor]


async def reminder(connection: aiosqlite.Connection, user_id: int, reminder_id: int) -> Reminder | None:
    async with connection.execute(
        f"SELECT {_REMINDER_COLUMNS} FROM reminders WHERE id = ? AND user_id = ?", (reminder_id, user_id)
    ) as cursor:
        row = await cursor.fetchone()
    return _reminder(row) if row else None


async def update_reminder(
    connection: aiosqlite.Connection,
    reminder_id: int,
    *,
    status: str | None = None,
    due_at: datetime | None = None,
    clear_due: bool = False,
    local_time: str | None = None,
    timezone: str | None = None,
    days: tuple[str, ...] | None = None,
) -> None:
    sets: list[str] = ["updated_at = ?"]
    params: list[Any] = [now_text()]
    if status is not None:
        sets.append("status = ?")
        params.append(status)
    if due_at is not None or clear_due:
        sets.append("due_at = ?")
        params.append(iso(due_at) if due_at is not None else None)
    if local_time is not None:
        sets.append("local_time = ?")
        params.append(local_time)
    if timezone is not None:
        sets.append("timezone = ?")
        params.append(timezone)
    if days is not None:
        sets.append("days = ?")
        params.append(json.dumps(list(days)))
    params.append(reminder_id)
    await connection.execute(f"UPDATE reminders SET {', '.join(sets)} WHERE id = ?", params)


async def delete_reminder(connection: aiosqlite.Connection, user_id: int, reminder_id: int) -> bool:
    cursor = await connection.execute(
        "DELETE FROM reminders WHERE id = ? AND user_id = ?", (reminder_id, user_id)
    )
    return cursor.rowcount == 1


async def pause_all(connection: aiosqlite.Connection, user_id: int) -> int:
    cursor = await connection.execute(
        "UPDATE reminders SET status = 'paused', due_at = NULL, updated_at = ? WHERE user_id = ? AND status = 'active'",
        (now_text(), user_id),
    )
    return cursor.rowcount


async def due(connection: aiosqlite.Connection, moment: datetime, limit: int) -> list[DueReminder]:
    async with connection.execute(
        f"SELECT {', '.join('r.' + c for c in _REMINDER_COLUMNS.split(', '))}, u.external_id, u.channel, u.active "
        "FROM reminders r JOIN users u ON u.id = r.user_id "
        "WHERE r.status = 'active' AND r.due_at <= ? ORDER BY r.due_at LIMIT ?",
        (iso(moment), limit),
    ) as cursor:
        return [
            DueReminder(_reminder(row[:9]), str(row[9]), str(row[10]), bool(row[11])) async for row in cursor
        ]


async def set_user_timezone(connection: aiosqlite.Connection, user_id: int, zone: str) -> None:
    await connection.execute(
        "UPDATE users SET timezone = ?, updated_at = ? WHERE id = ?", (zone, now_text(), user_id)
    )


# ------------------------------------------------------------------ sessions


async def add_session(
    connection: aiosqlite.Connection,
    user_id: int,
    reminder_id: int,
    occurrence: datetime,
    routine: str | None,
    outcome: str = "sent",
) -> int | None:
    """Record one occurrence; None when it was recorded before (never send it twice)."""
    stamp = now_text()
    cursor = await connection.execute(
        "INSERT OR IGNORE INTO sessions (user_id, reminder_id, occurrence, routine, outcome, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (user_id, reminder_id, iso(occurrence), routine, outcome, stamp, stamp),
    )
    return cursor.lastrowid if cursor.rowcount == 1 else None


async def session(connection: aiosqlite.Connection, user_id: int, session_id: int) -> dict[str, Any] | None:
    async with connection.execute(
        "SELECT id, outcome, routine, hurt_area, hurt_pain, hurt_settled, occurrence FROM sessions "
        "WHERE id = ? AND user_id = ?",
        (session_id, user_id),
    ) as cursor:
        row = await cursor.fetchone()
    if row is None:
        return None
    keys = ("id", "outcome", "routine", "hurt_area", "hurt_pain", "hurt_settled", "occurrence")
    return dict(zip(keys, row, strict=True))


async def update_session(connection: aiosqlite.Connection, session_id: int, **fields: Any) -> None:
    names = sorted(fields)
    assignments = ", ".join(f"{name} = ?" for name in names)
    await connection.execute(
        f"UPDATE sessions SET {assignments}, updated_at = ? WHERE id = ?",
        (*(fields[name] for name in names), now_text(), session_id),
    )


async def unsettled_hurt(connection: aiosqlite.Connection, user_id: int) -> int | None:
    """The latest session that hurt and had not settled, still waiting for the next-morning answer."""
    async with connection.execute(
        "SELECT id FROM sessions WHERE user_id = ? AND outcome = 'hurt' AND hurt_settled = 0 "
        "AND settled_next_morning IS NULL ORDER BY occurrence DESC LIMIT 1",
        (user_id,),
    ) as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else None


# ------------------------------------------------------------------ check-ins


async def add_checkin(
    connection: aiosqlite.Connection, user_id: int, reminder_id: int, kind: str, occurrence: datetime
) -> int | None:
    cursor = await connection.execute(
        "INSERT OR IGNORE INTO checkins (user_id, reminder_id, kind, occurrence, created_at) VALUES (?, ?, ?, ?, ?)",
        (user_id, reminder_id, kind, iso(occurrence), now_text()),
    )
    return cursor.lastrowid if cursor.rowcount == 1 else None


async def checkin(connection: aiosqlite.Connection, user_id: int, checkin_id: int) -> dict[str, Any] | None:
    async with connection.execute(
        "SELECT id, kind, pain_now, pain_worst, settled, new_flags, answered_at FROM checkins WHERE id = ? AND user_id = ?",
        (checkin_id, user_id),
    ) as cursor:
        row = await cursor.fetchone()
    if row is None:
        return None
    keys = ("id", "kind", "pain_now", "pain_worst", "settled", "new_flags", "answered_at")
    found = dict(zip(keys, row, strict=True))
    found["new_flags"] = json.loads(found["new_flags"]) if found["new_flags"] else None
    return found


async def update_checkin(connection: aiosqlite.Connection, checkin_id: int, **fields: Any) -> None:
    if "new_flags" in fields and fields["new_flags"] is not None:
        fields["new_flags"] = json.dumps(fields["new_flags"])
    names = sorted(fields)
    await connection.execute(
        f"UPDATE checkins SET {', '.join(f'{name} = ?' for name in names)} WHERE id = ?",
        (*(fields[name] for name in names), checkin_id),
    )


async def pending_day_after(connection: aiosqlite.Connection, user_id: int) -> bool:
    async with connection.execute(
        "SELECT 1 FROM reminders WHERE user_id = ? AND kind = 'day_after_checkin' AND status = 'active'",
        (user_id,),
    ) as cursor:
        return await cursor.fetchone() is not None


# ------------------------------------------------------------------ plans and history


async def save_plan(
    connection: aiosqlite.Connection,
    user_id: int,
    routine: str,
    baseline_pain: int,
    started_at: datetime,
    ball_allowed: bool,
    forbidden_tags: list[str],
) -> None:
    await connection.execute(
        "INSERT INTO plans (user_id, routine, baseline_pain, started_at, level, ball_allowed, forbidden_tags, updated_at) "
        "VALUES (?, ?, ?, ?, 'standard', ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET routine = excluded.routine, "
        "baseline_pain = excluded.baseline_pain, started_at = excluded.started_at, level = 'standard', "
        "ball_allowed = excluded.ball_allowed, forbidden_tags = excluded.forbidden_tags, "
        "last_decision = NULL, updated_at = excluded.updated_at",
        (
            user_id,
            routine,
            baseline_pain,
            iso(started_at),
            int(ball_allowed),
            json.dumps(forbidden_tags),
            now_text(),
        ),
    )


async def plan(connection: aiosqlite.Connection, user_id: int) -> dict[str, Any] | None:
    async with connection.execute(
        "SELECT routine, baseline_pain, started_at, level, ball_allowed, forbidden_tags, last_decision "
        "FROM plans WHERE user_id = ?",
        (user_id,),
    ) as cursor:
        row = await cursor.fetchone()
    if row is None:
        return None
    routine, baseline, started, level, ball, forbidden, decision = row
    return {
        "routine": routine,
        "baseline_pain": int(baseline),
        "started_at": parse_time(started),
        "level": level,
        "ball_allowed": bool(ball),
        "forbidden_tags": json.loads(forbidden),
        "last_decision": decision,
    }


async def update_plan(connection: aiosqlite.Connection, user_id: int, **fields: Any) -> None:
    if "forbidden_tags" in fields:
        fields["forbidden_tags"] = json.dumps(fields["forbidden_tags"])
    names = sorted(fields)
    await connection.execute(
        f"UPDATE plans SET {', '.join(f'{name} = ?' for name in names)}, updated_at = ? WHERE user_id = ?",
        (*(fields[name] for name in names), now_text(), user_id),
    )


async def answered_checkins(connection: aiosqlite.Connection, user_id: int) -> list[dict[str, Any]]:
    async with connection.execute(
        "SELECT occurrence, pain_now, pain_worst FROM checkins WHERE user_id = ? AND answered_at IS NOT NULL "
        "AND pain_now IS NOT NULL ORDER BY occurrence",
        (user_id,),
    ) as cursor:
        return [
            {"at": parse_time(at), "pain_now": int(now_), "pain_worst": None if worst is None else int(worst)}
            async for at, now_, worst in cursor
        ]


async def sessions_of(connection: aiosqlite.Connection, user_id: int) -> list[dict[str, Any]]:
    async with connection.execute(
        "SELECT occurrence, outcome, hurt_pain, hurt_settled, settled_next_morning FROM sessions "
        "WHERE user_id = ? ORDER BY occurrence",
        (user_id,),
    ) as cursor:
        return [
            {
                "at": parse_time(at),
                "outcome": outcome,
                "hurt_pain": hurt_pain,
                "hurt_settled": None if settled is None else bool(settled),
                "settled_next_morning": None if morning is None else bool(morning),
            }
            async for at, outcome, hurt_pain, settled, morning in cursor
        ]


async def user_timezone(connection: aiosqlite.Connection, user_id: int) -> str | None:
    async with connection.execute("SELECT timezone FROM users WHERE id = ?", (user_id,)) as cursor:
        row = await cursor.fetchone()
    return str(row[0]) if row and row[0] else None
