"""The stores of one PostgreSQL transaction (bot/core/ports.py), as plain psycopg calls.

They mirror bot/storage/sqlite/stores.py method for method and return the same records.
Every method runs in a worker thread inside the transaction `PostgresStorage` opened, so
a whole unit of work is one hand-off from the event loop however many statements it makes.

Where PostgreSQL differs, on purpose:
- Several processes share the database, so what SQLite's single writer gave for free is
  asked for: `due()` locks the rows it returns (`FOR UPDATE OF r SKIP LOCKED`, so a
  second claimer takes other reminders), `lease()` locks the user's unsent replies
  (`FOR UPDATE`, so two senders never lease the same reply), and lease times are the
  database's clock, one clock for every instance.
- Times are timestamptz and come back as aware datetimes in UTC; yes/no columns are
  booleans. JSON columns are `json`, which keeps the text as written, so answers
  round-trip exactly; values go in as the same JSON text the SQLite backend writes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

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


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def stamp_text(moment: datetime) -> str:
    """A stored time as the SQLite backend writes its stamps (for records that carry text)."""
    return utc(moment).isoformat(timespec="milliseconds")


def _loaded(value: Any) -> Any:
    """A `json` column as psycopg returns it (already decoded) or as text (decoded here)."""
    return json.loads(value) if isinstance(value, str | bytes) else value


# Replies keep their text readable in the database, as on SQLite.
_PAYLOAD = json.JSONEncoder(ensure_ascii=False)


def _json(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return json.dumps(value)


class _Store:
    def __init__(self, tx: PostgresTx) -> None:
        self.tx = tx

    @property
    def raw(self) -> psycopg.Connection[Any]:
        return self.tx.raw

    @property
    def stamp(self) -> datetime:
        return self.tx.stamp


# ---------------------------------------------------------------- users


class Users(_Store):
    def find(self, channel: str, external_id: str) -> int | None:
        row = self.raw.execute(
            "SELECT id FROM users WHERE channel = %s AND external_id = %s", (channel, external_id)
        ).fetchone()
        return int(row[0]) if row else None

    def get_or_create(self, channel: str, external_id: str) -> int:
        found = self.find(channel, external_id)
        return found if found is not None else self.create(channel, external_id)

    def create(self, channel: str, external_id: str) -> int:
        # Another instance may create the same person at the same moment (their first two
        # updates reaching two instances): the unique key decides, and both get one id.
        row = self.raw.execute(
            "INSERT INTO users (channel, external_id, created_at, updated_at) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (channel, external_id) DO NOTHING RETURNING id",
            (channel, external_id, self.stamp, self.stamp),
        ).fetchone()
        if row is not None:
            return int(row[0])
        found = self.find(channel, external_id)
        assert found is not None
        return found

    def address(self, user_id: int) -> tuple[str, str] | None:
        row = self.raw.execute("SELECT channel, external_id FROM users WHERE id = %s", (user_id,)).fetchone()
        return (str(row[0]), str(row[1])) if row else None

    def set_active(self, user_id: int, active: bool) -> None:
        self.raw.execute(
            "UPDATE users SET active = %s, updated_at = %s WHERE id = %s", (active, self.stamp, user_id)
        )

    def timezone(self, user_id: int) -> str | None:
        row = self.raw.execute("SELECT timezone FROM users WHERE id = %s", (user_id,)).fetchone()
        return str(row[0]) if row and row[0] else None

    def set_timezone(self, user_id: int, zone: str) -> None:
        self.raw.execute(
            "UPDATE users SET timezone = %s, updated_at = %s WHERE id = %s", (zone, self.stamp, user_id)
        )

    def quiet_hours(self, user_id: int) -> tuple[str, str] | None:
        row = self.raw.execute(
            "SELECT quiet_start, quiet_end FROM users WHERE id = %s AND quiet_set", (user_id,)
        ).fetchone()
        return (str(row[0]), str(row[1])) if row else None

    def set_quiet_hours(self, user_id: int, start: str, end: str) -> None:
        self.raw.execute(
            "UPDATE users SET quiet_start = %s, quiet_end = %s, quiet_set = TRUE, updated_at = %s WHERE id = %s",
            (start, end, self.stamp, user_id),
        )

    def language(self, user_id: int) -> str | None:
        row = self.raw.execute("SELECT language FROM users WHERE id = %s", (user_id,)).fetchone()
        return str(row[0]) if row else None

    def set_language(self, user_id: int, language: str, *, chosen: bool = True) -> None:
        if chosen:
            self.raw.execute(
                "UPDATE users SET language = %s, language_set = TRUE, updated_at = %s WHERE id = %s",
                (language, self.stamp, user_id),
            )
            return
        # What the app reports: written only when it changes, and never over a choice.
        self.raw.execute(
            "UPDATE users SET language = %s, updated_at = %s "
            "WHERE id = %s AND NOT language_set AND language <> %s",
            (language, self.stamp, user_id, language),
        )

    def export(self, user_id: int) -> dict[str, Any]:
        """The same shape as the SQLite backend's export: times as ISO text, yes/no as 0/1,
        JSON columns as their JSON text (answers decoded), so /mydata reads the same."""

        def rows(sql: str) -> list[dict[str, Any]]:
            cursor = self.raw.execute(sql, (user_id,))
            names = [column.name for column in cursor.description or ()]
            return [
                {name: _exported(value) for name, value in zip(names, row, strict=True)} for row in cursor
            ]

        exported: dict[str, Any] = {
            "user": rows(
                "SELECT channel, external_id, language, timezone, active, created_at, updated_at "
                "FROM users WHERE id = %s"
            ),
            "conversation": rows(
                "SELECT state, step, history::text AS history, pending::text AS pending, "
                "result::text AS result, updated_at FROM conversations WHERE user_id = %s"
            ),
            "checks": rows("SELECT id, flow, status, started_at, finished_at FROM checks WHERE user_id = %s"),
            "answers": rows(
                "SELECT a.check_id, a.key, a.value::text AS value, a.answered_at FROM answers a "
                'JOIN checks c ON c.id = a.check_id WHERE c.user_id = %s ORDER BY a.check_id, a.key COLLATE "C"'
            ),
            "assessments": [vars(item) for item in self.tx.conversations.assessments(user_id)],
            "plan": rows(
                "SELECT state, routine, level, baseline_pain, reference_pain, started_at, assessed_ball, "
                "ball_withdrawn, forbidden_tags::text AS forbidden_tags, paused_for::text AS paused_for, "
                "updated_at FROM plans WHERE user_id = %s"
            ),
            "plan_events": rows(
                "SELECT at, event, from_state, to_state, reasons::text AS reasons, detail::text AS detail "
                "FROM plan_events WHERE user_id = %s ORDER BY id"
            ),
            "reminders": rows(
                "SELECT kind, days::text AS days, local_time, timezone, status, due_at FROM reminders "
                "WHERE user_id = %s"
            ),
            "sessions": rows(
                "SELECT occurrence, routine, outcome, hurt_exercise, hurt_area, hurt_pain, hurt_settled, "
                "settled_next_morning FROM sessions WHERE user_id = %s ORDER BY occurrence"
            ),
            "checkins": rows(
                "SELECT kind, occurrence, pain_now, pain_worst, settled, new_flags::text AS new_flags, "
                "answered_at FROM checkins WHERE user_id = %s ORDER BY occurrence"
            ),
        }
        for answer in exported["answers"]:
            answer["value"] = json.loads(answer["value"])
        return exported

    def delete(self, user_id: int) -> None:
        self.raw.execute("DELETE FROM inbox WHERE user_id = %s", (user_id,))
        self.raw.execute("DELETE FROM users WHERE id = %s", (user_id,))


def _exported(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime):
        return stamp_text(value)
    return value


# ---------------------------------------------------------------- conversations

# The conversation, the user's time zone and quiet hours, and the current check's answers
# in one statement. json_object_agg keeps each stored value's JSON text as written, so the
# answers decode exactly as they were saved, in key order (byte order, as on SQLite).
_CONVERSATION = (
    "SELECT u.id, c.state, c.step, c.history::text, c.pending::text, c.check_id, c.result::text, c.flow, "
    "c.context::text, u.timezone, CASE WHEN u.quiet_set THEN u.quiet_start || '-' || u.quiet_end END, "
    '(SELECT json_object_agg(a.key, a.value ORDER BY a.key COLLATE "C")::text '
    "FROM answers a WHERE a.check_id = c.check_id) "
    "FROM users u LEFT JOIN conversations c ON c.user_id = u.id WHERE "
)


def _user_context(timezone: str | None, quiet: str | None) -> dict[str, Any]:
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
            _CONVERSATION + "u.channel = %s AND u.external_id = %s", (channel, external_id)
        ).fetchone()
        if row is None:
            return self.tx.users.create(channel, external_id), Snapshot()
        return int(row[0]), _snapshot(row)

    def load_for(self, user_id: int) -> Snapshot:
        row = self.raw.execute(_CONVERSATION + "u.id = %s", (user_id,)).fetchone()
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
                with self.raw.cursor() as cursor:
                    cursor.executemany(
                        "INSERT INTO answers (check_id, key, value, answered_at) VALUES (%s, %s, %s, %s) "
                        "ON CONFLICT (check_id, key) DO UPDATE SET value = excluded.value, "
                        "answered_at = excluded.answered_at",
                        changed,
                    )
        self.raw.execute(
            "INSERT INTO conversations (user_id, check_id, state, step, history, pending, result, flow, "
            "context, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (user_id) "
            "DO UPDATE SET check_id = excluded.check_id, state = excluded.state, step = excluded.step, "
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
        row = self.raw.execute(
            "INSERT INTO checks (user_id, flow, status, started_at) VALUES (%s, %s, 'in_progress', %s) "
            "RETURNING id",
            (user_id, flow, self.stamp),
        ).fetchone()
        assert row is not None
        return int(row[0])

    def close_check(self, check_id: int, status: str) -> None:
        self.raw.execute(
            "UPDATE checks SET status = %s, finished_at = %s WHERE id = %s AND status = 'in_progress'",
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
            "routine, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                user_id,
                check_id,
                urgency,
                json.dumps(list(reasons)),
                ball_release_allowed,
                routine,
                self.stamp,
            ),
        )

    def assessments(self, user_id: int) -> list[Assessment]:
        return [
            Assessment(
                str(urgency), tuple(_loaded(reasons)), bool(ball), routine, stamp_text(created), check_id
            )
            for urgency, reasons, ball, routine, created, check_id in self.raw.execute(
                "SELECT urgency, reasons, ball_release_allowed, routine, created_at, check_id "
                "FROM assessments WHERE user_id = %s ORDER BY id",
                (user_id,),
            )
        ]


# ---------------------------------------------------------------- inbox and outbox


class Inbox(_Store):
    def claim(self, key: str, user_id: int) -> bool:
        # A second instance given the same update waits here for the first to commit,
        # then finds the key and does nothing.
        cursor = self.raw.execute(
            "INSERT INTO inbox (key, user_id, received_at) VALUES (%s, %s, %s) ON CONFLICT (key) DO NOTHING",
            (key, user_id, self.stamp),
        )
        return cursor.rowcount == 1


class Outbox(_Store):
    def add(self, user_id: int, payloads: Sequence[dict[str, Any]], context: dict[str, Any]) -> list[int]:
        if not payloads:
            return []
        context_text = json.dumps(context)
        stamp = self.stamp
        # One statement for all of a step's replies; ids come back in the order given.
        values = ", ".join(f"(%s, %s, %s, %s, {n})" for n in range(len(payloads)))
        params: list[Any] = []
        for payload in payloads:
            params += [user_id, _PAYLOAD.encode(payload), context_text, stamp]
        rows = self.raw.execute(
            "INSERT INTO outbox (user_id, payload, context, created_at) "
            f"SELECT u, p::json, c::json, t FROM (VALUES {values}) AS v (u, p, c, t, n) ORDER BY n "
            "RETURNING id",
            params,
        ).fetchall()
        return sorted(int(row[0]) for row in rows)

    def lease(self, user_id: int, lease_seconds: float) -> Lease:
        items: list[OutboxItem] = []
        # FOR UPDATE: a second sender (another instance) leasing the same user's replies waits
        # for this transaction, then sees the lease taken here and leaves those rows alone.
        rows = self.raw.execute(
            "SELECT id, payload::text, context::text, lease_until >= clock_timestamp() FROM outbox "
            "WHERE user_id = %s AND sent_at IS NULL ORDER BY id FOR UPDATE",
            (user_id,),
        ).fetchall()
        for row_id, payload, context, held in rows:
            if held:
                # An older reply is still held (by another process, or one that died):
                # newer ones wait behind it, so the user never sees replies out of order.
                break
            items.append(OutboxItem(int(row_id), json.loads(payload), json.loads(context)))
        if items:
            self.raw.execute(
                "UPDATE outbox SET lease_until = clock_timestamp() + %s WHERE id = ANY(%s)",
                (timedelta(seconds=lease_seconds), [item.id for item in items]),
            )
        found = self.raw.execute(
            "SELECT question_message_id FROM transport_state WHERE user_id = %s", (user_id,)
        ).fetchone()
        return Lease(items, int(found[0]) if found and found[0] is not None else None)

    def mark_sent(self, outbox_id: int, user_id: int, question_message_id: int | None) -> None:
        self.raw.execute("UPDATE outbox SET sent_at = clock_timestamp() WHERE id = %s", (outbox_id,))
        self.raw.execute(
            "INSERT INTO transport_state (user_id, question_message_id) VALUES (%s, %s) "
            "ON CONFLICT (user_id) DO UPDATE SET question_message_id = excluded.question_message_id",
            (user_id, question_message_id),
        )

    def note_parts_sent(self, outbox_id: int, parts: int) -> None:
        self.raw.execute(
            "UPDATE outbox SET context = jsonb_set(context::jsonb, '{parts_sent}', to_jsonb(%s::int))::json "
            "WHERE id = %s",
            (parts, outbox_id),
        )

    def drop_unsent(self, user_id: int) -> None:
        # Marked sent (nothing will send them) and noted as dropped in their context.
        self.raw.execute(
            "UPDATE outbox SET sent_at = clock_timestamp(), "
            "context = (context::jsonb || '{\"dropped\": true}'::jsonb)::json "
            "WHERE user_id = %s AND sent_at IS NULL",
            (user_id,),
        )

    def users_with_unsent(self, channel: str) -> list[tuple[int, str]]:
        return [
            (int(user_id), str(external_id))
            for user_id, external_id in self.raw.execute(
                "SELECT DISTINCT u.id, u.external_id FROM outbox o JOIN users u ON u.id = o.user_id "
                "WHERE o.sent_at IS NULL AND u.channel = %s "
                "AND (o.lease_until IS NULL OR o.lease_until < clock_timestamp())",
                (channel,),
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


def _pause_from(value: Any) -> PauseReason | None:
    data = _loaded(value) if value else None
    if not data:
        return None
    return PauseReason(
        Urgency(data["urgency"]), tuple(data.get("reasons", ())), str(data.get("source", "result"))
    )


class Plans(_Store):
    def get(self, user_id: int) -> Plan | None:
        row = self.raw.execute(f"SELECT {_PLAN_COLUMNS} FROM plans WHERE user_id = %s", (user_id,)).fetchone()
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
            reference_at=utc(reference_at),
            started_at=utc(started),
            assessed_ball=bool(assessed),
            ball_withdrawn=bool(withdrawn),
            forbidden_tags=frozenset(_loaded(tags)),
            paused_for=_pause_from(paused),
            last_referral_at=utc(referral) if referral else None,
        )

    def save(self, user_id: int, plan: Plan) -> None:
        placeholders = ", ".join(["%s"] * 14)
        self.raw.execute(
            f"INSERT INTO plans (user_id, {_PLAN_COLUMNS}, updated_at) VALUES ({placeholders}) "
            "ON CONFLICT (user_id) DO UPDATE SET state = excluded.state, routine = excluded.routine, "
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
                _seconds(plan.reference_at),
                _seconds(plan.started_at),
                plan.assessed_ball,
                plan.ball_withdrawn,
                json.dumps(sorted(plan.forbidden_tags)),
                _pause_to_text(plan.paused_for),
                _seconds(plan.last_referral_at) if plan.last_referral_at else None,
                self.stamp,
            ),
        )

    def add_event(self, user_id: int, event: PlanEvent) -> None:
        self.raw.execute(
            "INSERT INTO plan_events (user_id, at, event, from_state, to_state, reasons, detail) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                user_id,
                _seconds(event.at),
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
                utc(at),
                str(event),
                PlanState(from_state),
                PlanState(to_state),
                tuple(_loaded(reasons)),
                _loaded(detail),
            )
            for at, event, from_state, to_state, reasons, detail in self.raw.execute(
                "SELECT at, event, from_state, to_state, reasons, detail FROM plan_events "
                "WHERE user_id = %s ORDER BY id",
                (user_id,),
            )
        ]


def _seconds(moment: datetime) -> datetime:
    """Plan and reminder times to the second, as the SQLite backend stores them, so both
    backends hand back the same moments."""
    return utc(moment).replace(microsecond=0)


# ---------------------------------------------------------------- reminders

_REMINDER_COLUMNS = "id, user_id, kind, days, local_time, timezone, status, due_at, ref_session"


def _reminder(row: Any) -> Reminder:
    rid, user_id, kind, days, local_time, timezone, status, due_at, ref_session = row
    return Reminder(
        id=int(rid),
        user_id=int(user_id),
        kind=str(kind),
        days=tuple(_loaded(days)),
        local_time=str(local_time),
        timezone=str(timezone),
        status=str(status),
        due_at=utc(due_at) if due_at else None,
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
        row = self.raw.execute(
            "INSERT INTO reminders (user_id, kind, days, local_time, timezone, status, due_at, ref_session, "
            "created_at, updated_at) VALUES (%s, %s, %s, %s, %s, 'active', %s, %s, %s, %s) RETURNING id",
            (
                user_id,
                kind,
                json.dumps(list(days)),
                local_time,
                timezone,
                _seconds(due_at),
                ref_session,
                stamp,
                stamp,
            ),
        ).fetchone()
        assert row is not None
        return int(row[0])

    def of(self, user_id: int, kinds: tuple[str, ...] = ()) -> list[Reminder]:
        sql = f"SELECT {_REMINDER_COLUMNS} FROM reminders WHERE user_id = %s AND status != 'finished'"
        params: list[Any] = [user_id]
        if kinds:
            sql += " AND kind = ANY(%s)"
            params.append(list(kinds))
        return [_reminder(row) for row in self.raw.execute(sql + " ORDER BY id", params)]

    def get(self, user_id: int, reminder_id: int) -> Reminder | None:
        row = self.raw.execute(
            f"SELECT {_REMINDER_COLUMNS} FROM reminders WHERE id = %s AND user_id = %s",
            (reminder_id, user_id),
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
        sets: list[str] = ["updated_at = %s"]
        params: list[Any] = [self.stamp]
        if status is not None:
            sets.append("status = %s")
            params.append(status)
        if due_at is not None or clear_due:
            sets.append("due_at = %s")
            params.append(_seconds(due_at) if due_at is not None else None)
        if local_time is not None:
            sets.append("local_time = %s")
            params.append(local_time)
        if timezone is not None:
            sets.append("timezone = %s")
            params.append(timezone)
        if days is not None:
            sets.append("days = %s")
            params.append(json.dumps(list(days)))
        params.append(reminder_id)
        self.raw.execute(f"UPDATE reminders SET {', '.join(sets)} WHERE id = %s", params)

    def delete(self, user_id: int, reminder_id: int) -> bool:
        cursor = self.raw.execute(
            "DELETE FROM reminders WHERE id = %s AND user_id = %s", (reminder_id, user_id)
        )
        return cursor.rowcount == 1

    def due(self, moment: datetime, limit: int) -> list[DueReminder]:
        # Several instances claim at once: each locks the rows it takes until its transaction
        # ends, and SKIP LOCKED makes the others pass over them to the next due ones.
        columns = ", ".join("r." + column for column in _REMINDER_COLUMNS.split(", "))
        return [
            DueReminder(_reminder(row[:9]), str(row[9]), str(row[10]), bool(row[11]))
            for row in self.raw.execute(
                f"SELECT {columns}, u.external_id, u.channel, u.active "
                "FROM reminders r JOIN users u ON u.id = r.user_id "
                "WHERE r.status = 'active' AND r.due_at <= %s ORDER BY r.due_at LIMIT %s "
                "FOR UPDATE OF r SKIP LOCKED",
                (utc(moment), limit),
            )
        ]

    def pending_day_after(self, user_id: int) -> bool:
        return (
            self.raw.execute(
                "SELECT 1 FROM reminders WHERE user_id = %s AND kind = 'day_after_checkin' AND status = 'active'",
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
        at=utc(at),
        routine=routine,
        outcome=str(outcome),
        hurt_exercise=exercise,
        hurt_area=area,
        hurt_pain=None if pain is None else int(pain),
        hurt_settled=settled,
        settled_next_morning=morning,
        guide=Guide.from_json(_loaded(guide)) if guide else None,
    )


def _stored(fields: dict[str, Any]) -> dict[str, Any]:
    """Field values as PostgreSQL takes them (flag lists as JSON text, times to the second)."""
    stored: dict[str, Any] = {}
    for name, value in fields.items():
        if name in _BOOL_FIELDS and value is not None:
            value = bool(value)
        elif name == "new_flags" and value is not None:
            value = json.dumps(list(value))
        elif name == "guide" and value is not None:
            value = json.dumps(value.to_json())
        elif isinstance(value, datetime):
            value = _seconds(value)
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
        row = self.raw.execute(
            "INSERT INTO sessions (user_id, reminder_id, occurrence, routine, outcome, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (reminder_id, occurrence) DO NOTHING RETURNING id",
            (user_id, reminder_id, _seconds(occurrence), routine, outcome, stamp, stamp),
        ).fetchone()
        return int(row[0]) if row else None

    def get(self, user_id: int, session_id: int) -> Session | None:
        row = self.raw.execute(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE id = %s AND user_id = %s", (session_id, user_id)
        ).fetchone()
        return _session(row) if row else None

    def update(self, session_id: int, **fields: Any) -> None:
        stored = _stored(fields)
        names = sorted(stored)
        self.raw.execute(
            f"UPDATE sessions SET {', '.join(f'{name} = %s' for name in names)}, updated_at = %s WHERE id = %s",
            (*(stored[name] for name in names), self.stamp, session_id),
        )

    def unsettled_hurt(self, user_id: int) -> int | None:
        row = self.raw.execute(
            "SELECT id FROM sessions WHERE user_id = %s AND outcome = 'hurt' AND hurt_settled = FALSE "
            "AND settled_next_morning IS NULL ORDER BY occurrence DESC LIMIT 1",
            (user_id,),
        ).fetchone()
        return int(row[0]) if row else None

    def of(self, user_id: int) -> list[Session]:
        return [
            _session(row)
            for row in self.raw.execute(
                f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE user_id = %s ORDER BY occurrence", (user_id,)
            )
        ]


_CHECKIN_COLUMNS = (
    "id, user_id, kind, occurrence, pain_now, pain_worst, settled, new_flags, answered_at, flag_stage"
)


def _checkin(row: Any) -> Checkin:
    cid, user_id, kind, at, pain_now, pain_worst, settled, flags, answered, stage = row
    loaded_flags = _loaded(flags) if flags is not None else None
    return Checkin(
        id=int(cid),
        user_id=int(user_id),
        kind=str(kind),
        at=utc(at),
        pain_now=None if pain_now is None else int(pain_now),
        pain_worst=None if pain_worst is None else int(pain_worst),
        settled=settled,
        new_flags=tuple(loaded_flags) if loaded_flags else None,
        answered_at=utc(answered) if answered else None,
        flag_stage=stage,
    )


class Checkins(_Store):
    def add(self, user_id: int, reminder_id: int, kind: str, occurrence: datetime) -> int | None:
        row = self.raw.execute(
            "INSERT INTO checkins (user_id, reminder_id, kind, occurrence, created_at) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (reminder_id, occurrence) DO NOTHING RETURNING id",
            (user_id, reminder_id, kind, _seconds(occurrence), self.stamp),
        ).fetchone()
        return int(row[0]) if row else None

    def get(self, user_id: int, checkin_id: int) -> Checkin | None:
        row = self.raw.execute(
            f"SELECT {_CHECKIN_COLUMNS} FROM checkins WHERE id = %s AND user_id = %s", (checkin_id, user_id)
        ).fetchone()
        return _checkin(row) if row else None

    def update(self, checkin_id: int, **fields: Any) -> None:
        stored = _stored(fields)
        names = sorted(stored)
        self.raw.execute(
            f"UPDATE checkins SET {', '.join(f'{name} = %s' for name in names)} WHERE id = %s",
            (*(stored[name] for name in names), checkin_id),
        )

    def answered(self, user_id: int) -> list[Checkin]:
        return [
            _checkin(row)
            for row in self.raw.execute(
                f"SELECT {_CHECKIN_COLUMNS} FROM checkins WHERE user_id = %s AND answered_at IS NOT NULL "
                "AND pain_now IS NOT NULL ORDER BY occurrence",
                (user_id,),
            )
        ]


class Media(_Store):
    def file_id(self, channel: str, key: str) -> str | None:
        row = self.raw.execute(
            "SELECT file_id FROM media WHERE channel = %s AND key = %s", (channel, key)
        ).fetchone()
        return str(row[0]) if row else None

    def remember(self, channel: str, key: str, file_id: str) -> None:
        self.raw.execute(
            "INSERT INTO media (channel, key, file_id, created_at) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (channel, key) DO UPDATE SET file_id = excluded.file_id, created_at = excluded.created_at",
            (channel, key, file_id, self.stamp),
        )

    def forget(self, channel: str, key: str) -> None:
        self.raw.execute("DELETE FROM media WHERE channel = %s AND key = %s", (channel, key))


class Broadcast(_Store):
    def claim(self, spacing: float) -> float:
        # One row: the earliest moment (the database's clock, epoch seconds) the next proactive
        # send of any instance may start. The row lock makes instances take turns.
        row = self.raw.execute(
            "INSERT INTO broadcast_pace AS p (id, next_at) "
            "VALUES (1, extract(epoch FROM clock_timestamp()) + %(spacing)s) ON CONFLICT (id) DO UPDATE SET "
            "next_at = greatest(p.next_at, extract(epoch FROM clock_timestamp())) + %(spacing)s "
            "RETURNING next_at - %(spacing)s - extract(epoch FROM clock_timestamp())",
            {"spacing": spacing},
        ).fetchone()
        assert row is not None
        return float(row[0])


class PostgresTx:
    """The stores of one transaction on one psycopg connection."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw
        self.stamp = datetime.now(UTC)
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
