"""The stores of one SQLite transaction (bot/core/ports.py), as plain sqlite3 calls.

Every method runs on aiosqlite's thread inside the transaction `SqliteStorage`
opened, so a whole unit of work is one hand-off however many statements it makes.
Values are stored as JSON text so answers of any shape round-trip exactly; times
are ISO 8601 in UTC.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.core.plan.model import PauseReason, Plan, PlanEvent, PlanState
from bot.core.policy import Urgency
from bot.core.records import (
    MAIN_FLOW,
    Assessment,
    Checkin,
    DueReminder,
    Guide,
    Lease,
    OutboxItem,
    Reminder,
    Session,
    Snapshot,
    stored_context,
)


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _optional_bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


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


class _Store:
    def __init__(self, tx: SqliteTx) -> None:
        self.tx = tx

    @property
    def raw(self) -> sqlite3.Connection:
        return self.tx.raw

    @property
    def stamp(self) -> str:
        return self.tx.stamp


# ---------------------------------------------------------------- users


class Users(_Store):
    def find(self, channel: str, external_id: str) -> int | None:
        row = self.raw.execute(
            "SELECT id FROM users WHERE channel = ? AND external_id = ?", (channel, external_id)
        ).fetchone()
        return int(row[0]) if row else None

    def get_or_create(self, channel: str, external_id: str) -> int:
        found = self.find(channel, external_id)
        return found if found is not None else self.create(channel, external_id)

    def create(self, channel: str, external_id: str) -> int:
        cursor = self.raw.execute(
            "INSERT INTO users (channel, external_id, created_at, updated_at) VALUES (?, ?, ?, ?)",
            (channel, external_id, self.stamp, self.stamp),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def address(self, user_id: int) -> tuple[str, str] | None:
        row = self.raw.execute("SELECT channel, external_id FROM users WHERE id = ?", (user_id,)).fetchone()
        return (str(row[0]), str(row[1])) if row else None

    def set_active(self, user_id: int, active: bool) -> None:
        self.raw.execute(
            "UPDATE users SET active = ?, updated_at = ? WHERE id = ?", (int(active), self.stamp, user_id)
        )

    def timezone(self, user_id: int) -> str | None:
        row = self.raw.execute("SELECT timezone FROM users WHERE id = ?", (user_id,)).fetchone()
        return str(row[0]) if row and row[0] else None

    def set_timezone(self, user_id: int, zone: str) -> None:
        self.raw.execute(
            "UPDATE users SET timezone = ?, updated_at = ? WHERE id = ?", (zone, self.stamp, user_id)
        )

    def quiet_hours(self, user_id: int) -> tuple[str, str] | None:
        row = self.raw.execute(
            "SELECT quiet_start, quiet_end FROM users WHERE id = ? AND quiet_set = 1", (user_id,)
        ).fetchone()
        return (str(row[0]), str(row[1])) if row else None

    def set_quiet_hours(self, user_id: int, start: str, end: str) -> None:
        self.raw.execute(
            "UPDATE users SET quiet_start = ?, quiet_end = ?, quiet_set = 1, updated_at = ? WHERE id = ?",
            (start, end, self.stamp, user_id),
        )

    def language(self, user_id: int) -> str | None:
        row = self.raw.execute("SELECT language FROM users WHERE id = ?", (user_id,)).fetchone()
        return str(row[0]) if row else None

    def set_language(self, user_id: int, language: str, *, chosen: bool = True) -> None:
        if chosen:
            self.raw.execute(
                "UPDATE users SET language = ?, language_set = 1, updated_at = ? WHERE id = ?",
                (language, self.stamp, user_id),
            )
            return
        # What the app reports: written only when it changes, and never over a choice.
        self.raw.execute(
            "UPDATE users SET language = ?, updated_at = ? "
            "WHERE id = ? AND language_set = 0 AND language <> ?",
            (language, self.stamp, user_id, language),
        )

    def export(self, user_id: int) -> dict[str, Any]:
        def rows(sql: str) -> list[dict[str, Any]]:
            cursor = self.raw.execute(sql, (user_id,))
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor]

        exported: dict[str, Any] = {
            "user": rows(
                "SELECT channel, external_id, language, timezone, active, created_at, updated_at "
                "FROM users WHERE id = ?"
            ),
            "conversation": rows(
                "SELECT state, step, history, pending, result, updated_at FROM conversations WHERE user_id = ?"
            ),
            "checks": rows("SELECT id, flow, status, started_at, finished_at FROM checks WHERE user_id = ?"),
            "answers": rows(
                "SELECT a.check_id, a.key, a.value, a.answered_at FROM answers a "
                "JOIN checks c ON c.id = a.check_id WHERE c.user_id = ? ORDER BY a.check_id, a.key"
            ),
            "assessments": [vars(item) for item in self.tx.conversations.assessments(user_id)],
            "plan": rows(
                "SELECT state, routine, level, baseline_pain, reference_pain, started_at, assessed_ball, "
                "ball_withdrawn, forbidden_tags, paused_for, updated_at FROM plans WHERE user_id = ?"
            ),
            "plan_events": rows(
                "SELECT at, event, from_state, to_state, reasons, detail FROM plan_events "
                "WHERE user_id = ? ORDER BY id"
            ),
            "reminders": rows(
                "SELECT kind, days, local_time, timezone, status, due_at FROM reminders WHERE user_id = ?"
            ),
            "sessions": rows(
                "SELECT occurrence, routine, outcome, hurt_exercise, hurt_area, hurt_pain, hurt_settled, "
                "settled_next_morning FROM sessions WHERE user_id = ? ORDER BY occurrence"
            ),
            "checkins": rows(
                "SELECT kind, occurrence, pain_now, pain_worst, settled, new_flags, answered_at "
                "FROM checkins WHERE user_id = ? ORDER BY occurrence"
            ),
        }
        for answer in exported["answers"]:
            answer["value"] = json.loads(answer["value"])
        return exported

    def delete(self, user_id: int) -> None:
        self.raw.execute("DELETE FROM inbox WHERE user_id = ?", (user_id,))
        self.raw.execute("DELETE FROM users WHERE id = ?", (user_id,))


# ---------------------------------------------------------------- conversations

# The conversation, the user's time zone and the current check's answers in one
# statement; the answers come as one JSON object built from their stored JSON texts
# (so they round-trip exactly, as json.loads of each would) and are decoded in one call.
_CONVERSATION = (
    "SELECT u.id, c.state, c.step, c.history, c.pending, c.check_id, c.result, c.flow, c.context, "
    "u.timezone, CASE WHEN u.quiet_set THEN u.quiet_start || '-' || u.quiet_end END, "
    "(SELECT '{' || group_concat(json_quote(a.key) || ':' || a.value, ',') || '}' "
    "FROM answers a WHERE a.check_id = c.check_id) "
    "FROM users u LEFT JOIN conversations c ON c.user_id = u.id WHERE "
)


def _user_context(timezone: str | None, quiet: str | None) -> dict[str, Any]:
    """What the conversation knows of the person from their user row: zone and quiet hours."""
    context: dict[str, Any] = {}
    if timezone:
        context["timezone"] = timezone
    if quiet:
        context["quiet"] = quiet.split("-")
    return context


def _snapshot(row: tuple[Any, ...]) -> Snapshot:
    _user_id, state, step, history, pending, check_id, result, flow, context, timezone, quiet, answers = row
    if step is None:  # a user with no conversation yet
        return Snapshot(context=_user_context(timezone, quiet))
    loaded_context = json.loads(context) if context else {}
    loaded_context.update(_user_context(timezone, quiet))
    return Snapshot(
        state=state,
        step=int(step),
        history=tuple(json.loads(history)),
        answers=json.loads(answers) if answers else {},
        pending=tuple(json.loads(pending)),
        check_id=check_id,
        result=json.loads(result) if result else None,
        flow=flow or MAIN_FLOW,
        context=loaded_context,
    )


class Conversations(_Store):
    def load(self, channel: str, external_id: str) -> tuple[int, Snapshot]:
        row = self.raw.execute(
            _CONVERSATION + "u.channel = ? AND u.external_id = ?", (channel, external_id)
        ).fetchone()
        if row is None:
            return self.tx.users.create(channel, external_id), Snapshot()
        return int(row[0]), _snapshot(row)

    def load_for(self, user_id: int) -> Snapshot:
        row = self.raw.execute(_CONVERSATION + "u.id = ?", (user_id,)).fetchone()
        return Snapshot() if row is None else _snapshot(row)

    def save(self, user_id: int, before: Snapshot, after: Snapshot) -> None:
        stamp = self.stamp
        if after.check_id is not None:
            previous = before.answers if before.check_id == after.check_id else {}
            changed = [
                (after.check_id, key, _json(value), stamp)
                for key, value in after.answers.items()
                if key not in previous or previous[key] != value
            ]
            if changed:
                self.raw.executemany(
                    "INSERT INTO answers (check_id, key, value, answered_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (check_id, key) DO UPDATE SET value = excluded.value, "
                    "answered_at = excluded.answered_at",
                    changed,
                )
        self.raw.execute(
            "INSERT INTO conversations (user_id, check_id, state, step, history, pending, result, flow, "
            "context, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
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
                json.dumps(stored_context(after)),
                stamp,
            ),
        )

    def open_check(self, user_id: int, flow: str) -> int:
        cursor = self.raw.execute(
            "INSERT INTO checks (user_id, flow, status, started_at) VALUES (?, ?, 'in_progress', ?)",
            (user_id, flow, self.stamp),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def close_check(self, check_id: int, status: str) -> None:
        self.raw.execute(
            "UPDATE checks SET status = ?, finished_at = ? WHERE id = ? AND status = 'in_progress'",
            (status, self.stamp, check_id),
        )

    def save_assessment(
        self,
        user_id: int,
        check_id: int | None,
        urgency: str,
        reasons: Sequence[str],
        ball_release_allowed: bool,
        routine: str | None,
    ) -> None:
        self.raw.execute(
            "INSERT INTO assessments (user_id, check_id, urgency, reasons, ball_release_allowed, "
            "routine, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                user_id,
                check_id,
                urgency,
                json.dumps(list(reasons)),
                int(ball_release_allowed),
                routine,
                self.stamp,
            ),
        )

    def assessments(self, user_id: int) -> list[Assessment]:
        return [
            Assessment(str(urgency), tuple(json.loads(reasons)), bool(ball), routine, str(created), check_id)
            for urgency, reasons, ball, routine, created, check_id in self.raw.execute(
                "SELECT urgency, reasons, ball_release_allowed, routine, created_at, check_id "
                "FROM assessments WHERE user_id = ? ORDER BY id",
                (user_id,),
            )
        ]


# ---------------------------------------------------------------- inbox and outbox


class Inbox(_Store):
    def claim(self, key: str, user_id: int) -> bool:
        cursor = self.raw.execute(
            "INSERT OR IGNORE INTO inbox (key, user_id, received_at) VALUES (?, ?, ?)",
            (key, user_id, self.stamp),
        )
        return cursor.rowcount == 1


class Outbox(_Store):
    def add(self, user_id: int, payloads: Sequence[dict[str, Any]], context: dict[str, Any]) -> list[int]:
        # One INSERT per reply rather than executemany: executemany cannot say which id
        # each row got, and on this thread a statement costs microseconds, not a hop.
        context_text = json.dumps(context)
        ids: list[int] = []
        for payload in payloads:
            cursor = self.raw.execute(
                "INSERT INTO outbox (user_id, payload, context, created_at) VALUES (?, ?, ?, ?)",
                (user_id, _PAYLOAD.encode(payload), context_text, self.stamp),
            )
            assert cursor.lastrowid is not None
            ids.append(cursor.lastrowid)
        return ids

    def lease(self, user_id: int, lease_seconds: float) -> Lease:
        stamp = datetime.now(UTC)
        now = stamp.isoformat(timespec="milliseconds")
        items: list[OutboxItem] = []
        for row_id, payload, context, lease_until in self.raw.execute(
            "SELECT id, payload, context, lease_until FROM outbox WHERE user_id = ? AND sent_at IS NULL "
            "ORDER BY id",
            (user_id,),
        ):
            if lease_until is not None and lease_until >= now:
                # An older reply is still held (by another process, or one that died):
                # newer ones wait behind it, so the user never sees replies out of order.
                break
            items.append(OutboxItem(int(row_id), json.loads(payload), json.loads(context)))
        if items:
            until = (stamp + timedelta(seconds=lease_seconds)).isoformat(timespec="milliseconds")
            self.raw.execute(
                f"UPDATE outbox SET lease_until = ? WHERE id IN ({','.join('?' for _ in items)})",
                (until, *(item.id for item in items)),
            )
        found = self.raw.execute(
            "SELECT question_message_id FROM transport_state WHERE user_id = ?", (user_id,)
        ).fetchone()
        return Lease(items, int(found[0]) if found and found[0] is not None else None)

    def mark_sent(self, outbox_id: int, user_id: int, question_message_id: int | None) -> None:
        self.raw.execute("UPDATE outbox SET sent_at = ? WHERE id = ?", (now_text(), outbox_id))
        self.raw.execute(
            "INSERT INTO transport_state (user_id, question_message_id) VALUES (?, ?) "
            "ON CONFLICT (user_id) DO UPDATE SET question_message_id = excluded.question_message_id",
            (user_id, question_message_id),
        )

    def note_parts_sent(self, outbox_id: int, parts: int) -> None:
        self.raw.execute(
            "UPDATE outbox SET context = json_set(context, '$.parts_sent', ?) WHERE id = ?",
            (parts, outbox_id),
        )

    def drop_unsent(self, user_id: int) -> None:
        self.raw.execute(
            "UPDATE outbox SET sent_at = ? WHERE user_id = ? AND sent_at IS NULL",
            (f"dropped {now_text()}", user_id),
        )

    def users_with_unsent(self, channel: str) -> list[tuple[int, str]]:
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        return [
            (int(user_id), str(external_id))
            for user_id, external_id in self.raw.execute(
                "SELECT DISTINCT u.id, u.external_id FROM outbox o JOIN users u ON u.id = o.user_id "
                "WHERE o.sent_at IS NULL AND u.channel = ? AND (o.lease_until IS NULL OR o.lease_until < ?)",
                (channel, now),
            )
        ]

    def backlog(self) -> int:
        row = self.raw.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()
        return int(row[0]) if row else 0


# ---------------------------------------------------------------- plans

_PLAN_COLUMNS = (
    "state, routine, level, baseline_pain, reference_pain, reference_at, started_at, assessed_ball, "
    "ball_withdrawn, forbidden_tags, paused_for, last_referral_at"
)


def _pause_to_text(pause: PauseReason | None) -> str | None:
    if pause is None:
        return None
    return json.dumps(
        {"urgency": pause.urgency.value, "reasons": list(pause.reasons), "source": pause.source}
    )


def _pause_from_text(text: str | None) -> PauseReason | None:
    if not text:
        return None
    data = json.loads(text)
    return PauseReason(
        Urgency(data["urgency"]), tuple(data.get("reasons", ())), str(data.get("source", "result"))
    )


class Plans(_Store):
    def get(self, user_id: int) -> Plan | None:
        row = self.raw.execute(f"SELECT {_PLAN_COLUMNS} FROM plans WHERE user_id = ?", (user_id,)).fetchone()
        if row is None:
            return None
        (
            state,
            routine,
            level,
            baseline,
            reference,
            reference_at,
            started,
            assessed,
            withdrawn,
            tags,
            paused,
            referral,
        ) = row
        return Plan(
            state=PlanState(state),
            routine=str(routine),
            level=int(level),
            baseline_pain=None if baseline is None else int(baseline),
            reference_pain=None if reference is None else int(reference),
            reference_at=parse_time(reference_at),
            started_at=parse_time(started),
            assessed_ball=bool(assessed),
            ball_withdrawn=bool(withdrawn),
            forbidden_tags=frozenset(json.loads(tags)),
            paused_for=_pause_from_text(paused),
            last_referral_at=parse_time(referral) if referral else None,
        )

    def save(self, user_id: int, plan: Plan) -> None:
        self.raw.execute(
            f"INSERT INTO plans (user_id, {_PLAN_COLUMNS}, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET state = excluded.state, routine = excluded.routine, "
            "level = excluded.level, baseline_pain = excluded.baseline_pain, "
            "reference_pain = excluded.reference_pain, reference_at = excluded.reference_at, "
            "started_at = excluded.started_at, assessed_ball = excluded.assessed_ball, "
            "ball_withdrawn = excluded.ball_withdrawn, forbidden_tags = excluded.forbidden_tags, "
            "paused_for = excluded.paused_for, last_referral_at = excluded.last_referral_at, "
            "updated_at = excluded.updated_at",
            (
                user_id,
                plan.state.value,
                plan.routine,
                plan.level,
                plan.baseline_pain,
                plan.reference_pain,
                iso(plan.reference_at),
                iso(plan.started_at),
                int(plan.assessed_ball),
                int(plan.ball_withdrawn),
                json.dumps(sorted(plan.forbidden_tags)),
                _pause_to_text(plan.paused_for),
                iso(plan.last_referral_at) if plan.last_referral_at else None,
                self.stamp,
            ),
        )

    def add_event(self, user_id: int, event: PlanEvent) -> None:
        self.raw.execute(
            "INSERT INTO plan_events (user_id, at, event, from_state, to_state, reasons, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                user_id,
                iso(event.at),
                event.event,
                event.from_state.value,
                event.to_state.value,
                json.dumps(list(event.reasons)),
                json.dumps(dict(event.detail)),
            ),
        )

    def events(self, user_id: int) -> list[PlanEvent]:
        return [
            PlanEvent(
                parse_time(at),
                str(event),
                PlanState(from_state),
                PlanState(to_state),
                tuple(json.loads(reasons)),
                json.loads(detail),
            )
            for at, event, from_state, to_state, reasons, detail in self.raw.execute(
                "SELECT at, event, from_state, to_state, reasons, detail FROM plan_events "
                "WHERE user_id = ? ORDER BY id",
                (user_id,),
            )
        ]


# ---------------------------------------------------------------- reminders

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


class Reminders(_Store):
    def add(
        self,
        user_id: int,
        kind: str,
        days: tuple[str, ...],
        local_time: str,
        timezone: str,
        due_at: datetime,
        ref_session: int | None = None,
    ) -> int:
        stamp = self.stamp
        cursor = self.raw.execute(
            "INSERT INTO reminders (user_id, kind, days, local_time, timezone, status, due_at, ref_session, "
            "created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?, ?)",
            (
                user_id,
                kind,
                json.dumps(list(days)),
                local_time,
                timezone,
                iso(due_at),
                ref_session,
                stamp,
                stamp,
            ),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def of(self, user_id: int, kinds: tuple[str, ...] = ()) -> list[Reminder]:
        sql = f"SELECT {_REMINDER_COLUMNS} FROM reminders WHERE user_id = ? AND status != 'finished'"
        params: list[Any] = [user_id]
        if kinds:
            sql += f" AND kind IN ({','.join('?' for _ in kinds)})"
            params.extend(kinds)
        return [_reminder(row) for row in self.raw.execute(sql + " ORDER BY id", params)]

    def get(self, user_id: int, reminder_id: int) -> Reminder | None:
        row = self.raw.execute(
            f"SELECT {_REMINDER_COLUMNS} FROM reminders WHERE id = ? AND user_id = ?", (reminder_id, user_id)
        ).fetchone()
        return _reminder(row) if row else None

    def update(
        self,
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
        params: list[Any] = [self.stamp]
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
        self.raw.execute(f"UPDATE reminders SET {', '.join(sets)} WHERE id = ?", params)

    def delete(self, user_id: int, reminder_id: int) -> bool:
        cursor = self.raw.execute(
            "DELETE FROM reminders WHERE id = ? AND user_id = ?", (reminder_id, user_id)
        )
        return cursor.rowcount == 1

    def due(self, moment: datetime, limit: int) -> list[DueReminder]:
        # SQLite has one writer: the claiming transaction (BEGIN IMMEDIATE) already
        # excludes every other, so no row lock is needed.
        columns = ", ".join("r." + column for column in _REMINDER_COLUMNS.split(", "))
        return [
            DueReminder(_reminder(row[:9]), str(row[9]), str(row[10]), bool(row[11]))
            for row in self.raw.execute(
                f"SELECT {columns}, u.external_id, u.channel, u.active "
                "FROM reminders r JOIN users u ON u.id = r.user_id "
                "WHERE r.status = 'active' AND r.due_at <= ? ORDER BY r.due_at LIMIT ?",
                (iso(moment), limit),
            )
        ]

    def pending_day_after(self, user_id: int) -> bool:
        return (
            self.raw.execute(
                "SELECT 1 FROM reminders WHERE user_id = ? AND kind = 'day_after_checkin' AND status = 'active'",
                (user_id,),
            ).fetchone()
            is not None
        )


# ---------------------------------------------------------------- sessions and check-ins

_SESSION_COLUMNS = (
    "id, user_id, occurrence, routine, outcome, hurt_exercise, hurt_area, hurt_pain, hurt_settled, "
    "settled_next_morning, guide"
)
_BOOL_FIELDS = frozenset({"hurt_settled", "settled_next_morning", "settled"})


def _session(row: Any) -> Session:
    sid, user_id, at, routine, outcome, exercise, area, pain, settled, morning, guide = row
    return Session(
        id=int(sid),
        user_id=int(user_id),
        at=parse_time(at),
        routine=routine,
        outcome=str(outcome),
        hurt_exercise=exercise,
        hurt_area=area,
        hurt_pain=None if pain is None else int(pain),
        hurt_settled=_optional_bool(settled),
        settled_next_morning=_optional_bool(morning),
        guide=Guide.from_json(json.loads(guide)) if guide else None,
    )


def _stored(fields: dict[str, Any]) -> dict[str, Any]:
    """Field values as SQLite stores them (booleans as 0/1, flag lists as JSON)."""
    stored: dict[str, Any] = {}
    for name, value in fields.items():
        if name in _BOOL_FIELDS and value is not None:
            value = int(bool(value))
        elif name == "new_flags" and value is not None:
            value = json.dumps(list(value))
        elif name == "guide" and value is not None:
            value = json.dumps(value.to_json())
        elif isinstance(value, datetime):
            value = iso(value)
        stored[name] = value
    return stored


class Sessions(_Store):
    def add(
        self,
        user_id: int,
        reminder_id: int | None,
        occurrence: datetime,
        routine: str | None,
        outcome: str = "sent",
    ) -> int | None:
        stamp = self.stamp
        cursor = self.raw.execute(
            "INSERT OR IGNORE INTO sessions (user_id, reminder_id, occurrence, routine, outcome, created_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (user_id, reminder_id, iso(occurrence), routine, outcome, stamp, stamp),
        )
        return cursor.lastrowid if cursor.rowcount == 1 else None

    def get(self, user_id: int, session_id: int) -> Session | None:
        row = self.raw.execute(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE id = ? AND user_id = ?", (session_id, user_id)
        ).fetchone()
        return _session(row) if row else None

    def update(self, session_id: int, **fields: Any) -> None:
        stored = _stored(fields)
        names = sorted(stored)
        self.raw.execute(
            f"UPDATE sessions SET {', '.join(f'{name} = ?' for name in names)}, updated_at = ? WHERE id = ?",
            (*(stored[name] for name in names), self.stamp, session_id),
        )

    def unsettled_hurt(self, user_id: int) -> int | None:
        row = self.raw.execute(
            "SELECT id FROM sessions WHERE user_id = ? AND outcome = 'hurt' AND hurt_settled = 0 "
            "AND settled_next_morning IS NULL ORDER BY occurrence DESC LIMIT 1",
            (user_id,),
        ).fetchone()
        return int(row[0]) if row else None

    def of(self, user_id: int) -> list[Session]:
        return [
            _session(row)
            for row in self.raw.execute(
                f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE user_id = ? ORDER BY occurrence", (user_id,)
            )
        ]


_CHECKIN_COLUMNS = (
    "id, user_id, kind, occurrence, pain_now, pain_worst, settled, new_flags, answered_at, flag_stage"
)


def _checkin(row: Any) -> Checkin:
    cid, user_id, kind, at, pain_now, pain_worst, settled, flags, answered, stage = row
    return Checkin(
        id=int(cid),
        user_id=int(user_id),
        kind=str(kind),
        at=parse_time(at),
        pain_now=None if pain_now is None else int(pain_now),
        pain_worst=None if pain_worst is None else int(pain_worst),
        settled=_optional_bool(settled),
        new_flags=tuple(json.loads(flags)) if flags else None,
        answered_at=parse_time(answered) if answered else None,
        flag_stage=stage,
    )


class Checkins(_Store):
    def add(self, user_id: int, reminder_id: int, kind: str, occurrence: datetime) -> int | None:
        cursor = self.raw.execute(
            "INSERT OR IGNORE INTO checkins (user_id, reminder_id, kind, occurrence, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (user_id, reminder_id, kind, iso(occurrence), self.stamp),
        )
        return cursor.lastrowid if cursor.rowcount == 1 else None

    def get(self, user_id: int, checkin_id: int) -> Checkin | None:
        row = self.raw.execute(
            f"SELECT {_CHECKIN_COLUMNS} FROM checkins WHERE id = ? AND user_id = ?", (checkin_id, user_id)
        ).fetchone()
        return _checkin(row) if row else None

    def update(self, checkin_id: int, **fields: Any) -> None:
        stored = _stored(fields)
        names = sorted(stored)
        self.raw.execute(
            f"UPDATE checkins SET {', '.join(f'{name} = ?' for name in names)} WHERE id = ?",
            (*(stored[name] for name in names), checkin_id),
        )

    def answered(self, user_id: int) -> list[Checkin]:
        return [
            _checkin(row)
            for row in self.raw.execute(
                f"SELECT {_CHECKIN_COLUMNS} FROM checkins WHERE user_id = ? AND answered_at IS NOT NULL "
                "AND pain_now IS NOT NULL ORDER BY occurrence",
                (user_id,),
            )
        ]


class Media(_Store):
    def file_id(self, channel: str, key: str) -> str | None:
        row = self.raw.execute(
            "SELECT file_id FROM media WHERE channel = ? AND key = ?", (channel, key)
        ).fetchone()
        return str(row[0]) if row else None

    def remember(self, channel: str, key: str, file_id: str) -> None:
        self.raw.execute(
            "INSERT INTO media (channel, key, file_id, created_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (channel, key) DO UPDATE SET file_id = excluded.file_id, created_at = excluded.created_at",
            (channel, key, file_id, self.stamp),
        )

    def forget(self, channel: str, key: str) -> None:
        self.raw.execute("DELETE FROM media WHERE channel = ? AND key = ?", (channel, key))


class Broadcast(_Store):
    def claim(self, spacing: float) -> float:
        # One row: the earliest moment the next proactive send may start, for every process
        # on this file (epoch seconds). Taking a start moves it on by `spacing`.
        now = time.time()
        row = self.raw.execute(
            "INSERT INTO broadcast_pace (id, next_at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET "
            "next_at = max(next_at, ?) + ? RETURNING next_at",
            (now + spacing, now, spacing),
        ).fetchone()
        return float(row[0]) - spacing - now


class SqliteTx:
    """The stores of one transaction on one sqlite3 connection.

    Built once per connection and reused: `begin` sets the transaction's time, the
    one stamp all of its rows get.
    """

    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw = raw
        self.stamp = now_text()
        self.users = Users(self)
        self.conversations = Conversations(self)
        self.inbox = Inbox(self)
        self.outbox = Outbox(self)
        self.plans = Plans(self)
        self.reminders = Reminders(self)
        self.sessions = Sessions(self)
        self.checkins = Checkins(self)
        self.media = Media(self)
        self.broadcast = Broadcast(self)

    def begin(self) -> SqliteTx:
        self.stamp = now_text()
        return self
