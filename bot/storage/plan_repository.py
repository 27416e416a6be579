"""Reminders, sessions, check-ins and plans in the database.

Times are stored in UTC (ISO 8601); each reminder keeps its local wall time and
IANA zone, and `due_at` is always derived from them, so a daylight-saving change
moves nothing the user did not ask for. Like repository.py, every function runs
inside the caller's transaction.

Each function's SQL is written once, as a plain function of the raw sqlite3
connection (`<name>_sync`), for work that runs whole on aiosqlite's thread
(`Database.write_sync`: the scheduler claims a chunk of reminders in one hop, and
a conversation step's effects run inside the step). The async name beside it is
the same function for code holding an aiosqlite connection: one hand-off each
(`on_connection`). The scheduler and the effects use only the plain functions, so
those have no awaitable form.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.core.clock import LocalTime, next_occurrence
from bot.storage.database import on_connection
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


def add_reminder_sync(
    raw: sqlite3.Connection,
    user_id: int,
    kind: str,
    days: tuple[str, ...],
    local_time: str,
    timezone: str,
    due_at: datetime,
    ref_session: int | None = None,
) -> int:
    stamp = now_text()
    cursor = raw.execute(
        "INSERT INTO reminders (user_id, kind, days, local_time, timezone, status, due_at, ref_session, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?, ?)",
        (user_id, kind, json.dumps(list(days)), local_time, timezone, iso(due_at), ref_session, stamp, stamp),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def reminders_of_sync(raw: sqlite3.Connection, user_id: int, kinds: tuple[str, ...] = ()) -> list[Reminder]:
    sql = f"SELECT {_REMINDER_COLUMNS} FROM reminders WHERE user_id = ? AND status != 'finished'"
    params: list[Any] = [user_id]
    if kinds:
        sql += f" AND kind IN ({','.join('?' for _ in kinds)})"
        params.extend(kinds)
    return [_reminder(row) for row in raw.execute(sql + " ORDER BY id", params)]


def reminder_sync(raw: sqlite3.Connection, user_id: int, reminder_id: int) -> Reminder | None:
    row = raw.execute(
        f"SELECT {_REMINDER_COLUMNS} FROM reminders WHERE id = ? AND user_id = ?", (reminder_id, user_id)
    ).fetchone()
    return _reminder(row) if row else None


def update_reminder_sync(
    raw: sqlite3.Connection,
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
    raw.execute(f"UPDATE reminders SET {', '.join(sets)} WHERE id = ?", params)


def delete_reminder_sync(raw: sqlite3.Connection, user_id: int, reminder_id: int) -> bool:
    cursor = raw.execute("DELETE FROM reminders WHERE id = ? AND user_id = ?", (reminder_id, user_id))
    return cursor.rowcount == 1


def pause_all_sync(raw: sqlite3.Connection, user_id: int) -> int:
    cursor = raw.execute(
        "UPDATE reminders SET status = 'paused', due_at = NULL, updated_at = ? WHERE user_id = ? AND status = 'active'",
        (now_text(), user_id),
    )
    return cursor.rowcount


def due_sync(raw: sqlite3.Connection, moment: datetime, limit: int) -> list[DueReminder]:
    return [
        DueReminder(_reminder(row[:9]), str(row[9]), str(row[10]), bool(row[11]))
        for row in raw.execute(
            f"SELECT {', '.join('r.' + c for c in _REMINDER_COLUMNS.split(', '))}, u.external_id, u.channel, u.active "
            "FROM reminders r JOIN users u ON u.id = r.user_id "
            "WHERE r.status = 'active' AND r.due_at <= ? ORDER BY r.due_at LIMIT ?",
            (iso(moment), limit),
        )
    ]


def set_user_timezone_sync(raw: sqlite3.Connection, user_id: int, zone: str) -> None:
    raw.execute("UPDATE users SET timezone = ?, updated_at = ? WHERE id = ?", (zone, now_text(), user_id))


# ------------------------------------------------------------------ sessions


def add_session_sync(
    raw: sqlite3.Connection,
    user_id: int,
    reminder_id: int,
    occurrence: datetime,
    routine: str | None,
    outcome: str = "sent",
) -> int | None:
    """Record one occurrence; None when it was recorded before (never send it twice)."""
    stamp = now_text()
    cursor = raw.execute(
        "INSERT OR IGNORE INTO sessions (user_id, reminder_id, occurrence, routine, outcome, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (user_id, reminder_id, iso(occurrence), routine, outcome, stamp, stamp),
    )
    return cursor.lastrowid if cursor.rowcount == 1 else None


def session_sync(raw: sqlite3.Connection, user_id: int, session_id: int) -> dict[str, Any] | None:
    row = raw.execute(
        "SELECT id, outcome, routine, hurt_area, hurt_pain, hurt_settled, occurrence FROM sessions "
        "WHERE id = ? AND user_id = ?",
        (session_id, user_id),
    ).fetchone()
    if row is None:
        return None
    keys = ("id", "outcome", "routine", "hurt_area", "hurt_pain", "hurt_settled", "occurrence")
    return dict(zip(keys, row, strict=True))


def update_session_sync(raw: sqlite3.Connection, /, session_id: int, **fields: Any) -> None:
    names = sorted(fields)
    assignments = ", ".join(f"{name} = ?" for name in names)
    raw.execute(
        f"UPDATE sessions SET {assignments}, updated_at = ? WHERE id = ?",
        (*(fields[name] for name in names), now_text(), session_id),
    )


def unsettled_hurt_sync(raw: sqlite3.Connection, user_id: int) -> int | None:
    """The latest session that hurt and had not settled, still waiting for the next-morning answer."""
    row = raw.execute(
        "SELECT id FROM sessions WHERE user_id = ? AND outcome = 'hurt' AND hurt_settled = 0 "
        "AND settled_next_morning IS NULL ORDER BY occurrence DESC LIMIT 1",
        (user_id,),
    ).fetchone()
    return int(row[0]) if row else None


# ------------------------------------------------------------------ check-ins


def add_checkin_sync(
    raw: sqlite3.Connection, user_id: int, reminder_id: int, kind: str, occurrence: datetime
) -> int | None:
    cursor = raw.execute(
        "INSERT OR IGNORE INTO checkins (user_id, reminder_id, kind, occurrence, created_at) VALUES (?, ?, ?, ?, ?)",
        (user_id, reminder_id, kind, iso(occurrence), now_text()),
    )
    return cursor.lastrowid if cursor.rowcount == 1 else None


def checkin_sync(raw: sqlite3.Connection, user_id: int, checkin_id: int) -> dict[str, Any] | None:
    row = raw.execute(
        "SELECT id, kind, pain_now, pain_worst, settled, new_flags, answered_at FROM checkins WHERE id = ? AND user_id = ?",
        (checkin_id, user_id),
    ).fetchone()
    if row is None:
        return None
    keys = ("id", "kind", "pain_now", "pain_worst", "settled", "new_flags", "answered_at")
    found = dict(zip(keys, row, strict=True))
    found["new_flags"] = json.loads(found["new_flags"]) if found["new_flags"] else None
    return found


def update_checkin_sync(raw: sqlite3.Connection, /, checkin_id: int, **fields: Any) -> None:
    if "new_flags" in fields and fields["new_flags"] is not None:
        fields["new_flags"] = json.dumps(fields["new_flags"])
    names = sorted(fields)
    raw.execute(
        f"UPDATE checkins SET {', '.join(f'{name} = ?' for name in names)} WHERE id = ?",
        (*(fields[name] for name in names), checkin_id),
    )


def pending_day_after_sync(raw: sqlite3.Connection, user_id: int) -> bool:
    return (
        raw.execute(
            "SELECT 1 FROM reminders WHERE user_id = ? AND kind = 'day_after_checkin' AND status = 'active'",
            (user_id,),
        ).fetchone()
        is not None
    )


# ------------------------------------------------------------------ plans and history


def save_plan_sync(
    raw: sqlite3.Connection,
    user_id: int,
    routine: str,
    baseline_pain: int,
    started_at: datetime,
    ball_allowed: bool,
    forbidden_tags: list[str],
) -> None:
    raw.execute(
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


def plan_sync(raw: sqlite3.Connection, user_id: int) -> dict[str, Any] | None:
    row = raw.execute(
        "SELECT routine, baseline_pain, started_at, level, ball_allowed, forbidden_tags, last_decision "
        "FROM plans WHERE user_id = ?",
        (user_id,),
    ).fetchone()
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


def update_plan_sync(raw: sqlite3.Connection, /, user_id: int, **fields: Any) -> None:
    if "forbidden_tags" in fields:
        fields["forbidden_tags"] = json.dumps(fields["forbidden_tags"])
    names = sorted(fields)
    raw.execute(
        f"UPDATE plans SET {', '.join(f'{name} = ?' for name in names)}, updated_at = ? WHERE user_id = ?",
        (*(fields[name] for name in names), now_text(), user_id),
    )


def answered_checkins_sync(raw: sqlite3.Connection, user_id: int) -> list[dict[str, Any]]:
    return [
        {"at": parse_time(at), "pain_now": int(now_), "pain_worst": None if worst is None else int(worst)}
        for at, now_, worst in raw.execute(
            "SELECT occurrence, pain_now, pain_worst FROM checkins WHERE user_id = ? AND answered_at IS NOT NULL "
            "AND pain_now IS NOT NULL ORDER BY occurrence",
            (user_id,),
        )
    ]


def sessions_of_sync(raw: sqlite3.Connection, user_id: int) -> list[dict[str, Any]]:
    return [
        {
            "at": parse_time(at),
            "outcome": outcome,
            "hurt_pain": hurt_pain,
            "hurt_settled": None if settled is None else bool(settled),
            "settled_next_morning": None if morning is None else bool(morning),
        }
        for at, outcome, hurt_pain, settled, morning in raw.execute(
            "SELECT occurrence, outcome, hurt_pain, hurt_settled, settled_next_morning FROM sessions "
            "WHERE user_id = ? ORDER BY occurrence",
            (user_id,),
        )
    ]


def user_timezone_sync(raw: sqlite3.Connection, user_id: int) -> str | None:
    row = raw.execute("SELECT timezone FROM users WHERE id = ?", (user_id,)).fetchone()
    return str(row[0]) if row and row[0] else None


# ------------------------------------------------------------------ the same, for an aiosqlite connection
# (one hand-off each; the SQL is the `_sync` function's)

add_reminder = on_connection(add_reminder_sync)
reminders_of = on_connection(reminders_of_sync)
reminder = on_connection(reminder_sync)
update_reminder = on_connection(update_reminder_sync)
delete_reminder = on_connection(delete_reminder_sync)
pause_all = on_connection(pause_all_sync)
session = on_connection(session_sync)
update_session = on_connection(update_session_sync)
unsettled_hurt = on_connection(unsettled_hurt_sync)
checkin = on_connection(checkin_sync)
update_checkin = on_connection(update_checkin_sync)
pending_day_after = on_connection(pending_day_after_sync)
plan = on_connection(plan_sync)
update_plan = on_connection(update_plan_sync)
answered_checkins = on_connection(answered_checkins_sync)
sessions_of = on_connection(sessions_of_sync)
user_timezone = on_connection(user_timezone_sync)
