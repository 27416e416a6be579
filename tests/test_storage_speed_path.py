"""The one-hop step: a whole conversation step is one hand-off to aiosqlite's thread.

`SqliteStorage.write` runs BEGIN IMMEDIATE, the step and COMMIT as one plain
function on aiosqlite's worker thread, through aiosqlite's private
`Connection._execute` / `Connection._conn` (wrapped once, in `on_worker`). These
tests pin that contract, and that the fast path keeps every promise the
multi-hop path made: one transaction per step, idempotent inputs, outbox rows in
the same transaction, no transaction left open after a failure (a full disk, a
failed COMMIT, SQLite's own rollback), writers serialised. The promises every backend keeps
(idempotent inputs, outbox order, whole steps, exact answers) are tested on each backend in
tests/test_storage.py.
"""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from bot.core.answers import AREAS, BOOLEAN_KEYS
from bot.core.events import Press, Start, Text
from bot.core.plan.scheduler import Scheduler
from bot.core.policy import Urgency
from bot.core.ports import StorageError
from bot.core.service import ConversationService
from bot.core.triage import is_emergency, triage
from bot.storage.sqlite import SqliteStorage as Database
from bot.storage.sqlite.connection import on_worker
from bot.storage.sqlite.stores import SqliteTx
from tests.support import FakeClock, core

RED_FLAG_TEXT = "I've lost control of my bladder"  # ends any check with an EMERGENCY result
TABLES = ("users", "conversations", "inbox", "outbox", "checks", "assessments", "plans", "plan_events")


def core_with_reminders() -> Any:
    from tests.support import reminders_core

    return reminders_core()


def handled_step(handled: Any) -> int:
    """The step a reply's buttons carry (the conversation's current step)."""
    data = next(
        button.data for reply in handled.replies for button in reply.all_buttons if ":" in button.data
    )
    return int(data.split(":")[0])


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    async with Database(tmp_path / "bot.db") as opened:
        yield opened


@contextmanager
def counting_hops() -> Iterator[list[int]]:
    """Count hand-offs to aiosqlite's thread (every execute, fetch and on_worker call)."""
    original = aiosqlite.Connection._execute
    hops = [0]

    def counting(self: Any, *args: Any, **kwargs: Any) -> Any:
        hops[0] += 1
        return original(self, *args, **kwargs)

    aiosqlite.Connection._execute = counting  # type: ignore[method-assign]
    try:
        yield hops
    finally:
        aiosqlite.Connection._execute = original  # type: ignore[method-assign]


async def scalar(database: Database, sql: str, *args: Any) -> Any:
    def read(tx: Any) -> Any:
        row = tx.raw.execute(sql, args).fetchone()
        return row[0] if row else None

    return await database.read(read)


def raw(work: Any) -> Any:
    """A unit of work written against the raw sqlite3 connection (SQLite-only tests)."""
    return lambda tx: work(tx.raw)


async def in_transaction(database: Database) -> bool:
    return await on_worker(database.connection, lambda raw: raw.in_transaction)


# ------------------------------------------------------------ aiosqlite's private API


def test_aiosqlite_still_has_what_on_worker_relies_on():
    """If this fails, an aiosqlite release changed its internals: fix `on_worker` (the only user)."""
    assert callable(getattr(aiosqlite.Connection, "_execute", None)), "aiosqlite dropped Connection._execute"
    assert isinstance(getattr(aiosqlite.Connection, "_conn", None), property), "aiosqlite dropped _conn"


async def test_on_worker_runs_on_the_connections_own_thread_with_the_raw_connection(database: Database):
    seen = await on_worker(database.connection, lambda raw: (threading.get_ident(), raw))
    thread, raw = seen
    assert thread != threading.get_ident()
    assert isinstance(raw, sqlite3.Connection)
    # The same thread every aiosqlite call uses: a statement sent the usual way sees our work.
    await on_worker(database.connection, lambda raw: raw.execute("CREATE TEMP TABLE t (x)"))
    async with database.connection.execute("SELECT count(*) FROM temp.t") as cursor:
        assert (await cursor.fetchone())[0] == 0


# ------------------------------------------------------------ one hop, one transaction


async def test_a_step_as_the_telegram_front_makes_it_is_one_hop(database: Database):
    service = ConversationService(core().engine, database)
    await service.handle("t", "u1", Start())
    with counting_hops() as hops:
        handled = await service.handle(
            "t", "u1", Press("1:y"), inbox_key="update:1", outbox_context={"pressed_message_id": 3}
        )
    assert hops[0] == 1
    assert handled.outbox_ids and handled.state == "pain_location"


async def test_a_step_with_effects_is_one_hop_and_commits_once_with_its_outbox(database: Database):
    seen: list[Any] = []
    step_thread: list[int] = []

    def effects(tx: SqliteTx, user_id: int, items: tuple[dict[str, Any], ...], plan: Any) -> None:
        # The effects run inside the step's transaction, after the conversation was saved.
        state = tx.raw.execute("SELECT state FROM conversations WHERE user_id = ?", (user_id,)).fetchone()[0]
        seen.append((state, [item["type"] for item in items], plan.state.value))
        assert tx.raw.in_transaction
        step_thread.append(threading.get_ident())

    service = ConversationService(core().engine, database, effects=effects)
    await service.handle("t", "u1", Start())
    with counting_hops() as hops:
        handled = await service.handle("t", "u1", Press("1:y"), inbox_key="k0", outbox_context={"c": 1})
    assert hops[0] == 1 and not seen  # a step with no effects calls nothing
    reminders = ConversationService(core_with_reminders().engine, database, effects=effects)
    with counting_hops() as hops:
        handled = await reminders.handle(
            "t", "u1", Text(RED_FLAG_TEXT), inbox_key="k1", outbox_context={"c": 1}
        )
        await reminders.handle("t", "u1", Press(f"{handled_step(handled)}:review"), inbox_key="k2")
        handled = await reminders.handle(
            "t", "u1", Press(f"{handled_step(handled) + 1}:y"), inbox_key="k3", outbox_context={"c": 1}
        )
    assert hops[0] == 3
    assert step_thread and step_thread[0] != threading.get_ident()  # on the database thread
    # The review's "yes" restarts the paused plan: its effect ran with the plan as saved by the step.
    assert seen == [("result", ["plan_resumed"], "eased")]
    assert handled.state == "result" and handled.outbox_ids
    assert not await in_transaction(database)
    assert await scalar(database, "SELECT count(*) FROM assessments") == 1
    assert await scalar(database, "SELECT count(*) FROM plan_events") == 2  # paused, then resumed


async def test_failing_effects_undo_the_whole_step_and_the_update_can_be_retried(database: Database):
    def broken(tx: SqliteTx, user_id: int, items: tuple[dict[str, Any], ...], plan: Any) -> None:
        tx.raw.execute("UPDATE users SET language = 'xx' WHERE id = ?", (user_id,))
        raise RuntimeError("plan service failed")

    engine = core_with_reminders().engine
    fine = ConversationService(engine, database)
    handled = await fine.handle("t", "u1", Text(RED_FLAG_TEXT))
    await fine.handle("t", "u1", Press(f"{handled_step(handled)}:review"))
    before = {table: await scalar(database, f"SELECT count(*) FROM {table}") for table in TABLES}
    service = ConversationService(engine, database, effects=broken)
    with pytest.raises(RuntimeError, match="plan service failed"):
        await service.handle(
            "t", "u1", Press(f"{handled_step(handled) + 1}:y"), inbox_key="k1", outbox_context={}
        )
    assert not await in_transaction(database)
    for table in TABLES:
        assert await scalar(database, f"SELECT count(*) FROM {table}") == before[table], table
    assert await scalar(database, "SELECT state FROM plans") == "paused"
    # The redelivered update is not taken for a duplicate: it was never recorded.
    fixed = ConversationService(engine, database, effects=None)
    again = await fixed.handle(
        "t", "u1", Press(f"{handled_step(handled) + 1}:y"), inbox_key="k1", outbox_context={}
    )
    assert not again.duplicate and await scalar(database, "SELECT state FROM plans") == "eased"


async def test_the_scheduler_claims_a_chunk_of_due_reminders_in_one_hop(database: Database):
    """`Scheduler.claim_due`: one hop per chunk of `limit` reminders, whatever each one needs."""
    now = datetime(2026, 3, 20, 18, 0, 30, tzinfo=UTC)
    every_day = json.dumps(["mon", "tue", "wed", "thu", "fri", "sat", "sun"])

    def seed(raw: sqlite3.Connection) -> None:
        for n, (kind, active, late_minutes) in enumerate(
            [
                ("session", 1, 0),
                ("weekly_checkin", 1, 1),
                ("session", 0, 2),
                ("session", 1, 300),
                ("session", 1, 3),
            ],
            start=1,
        ):
            raw.execute(
                "INSERT INTO users (id, channel, external_id, active, created_at, updated_at) "
                "VALUES (?, 't', ?, ?, '', '')",
                (n, f"chat{n}", active),
            )
            due = (now - timedelta(minutes=late_minutes)).isoformat(timespec="seconds")
            raw.execute(
                "INSERT INTO reminders (user_id, kind, days, local_time, timezone, status, due_at, "
                "created_at, updated_at) VALUES (?, ?, ?, '18:00', 'UTC', 'active', ?, '', '')",
                (n, kind, every_day, due),
            )
            raw.execute(
                "INSERT INTO plans (user_id, state, routine, reference_at, started_at, assessed_ball, "
                "ball_withdrawn, updated_at) VALUES (?, 'active', 'desk-sitter', ?, ?, 0, 0, '')",
                (n, due, due),
            )

    await database.write(raw(seed))
    due: list[tuple[str, float, bool]] = []
    plan = Scheduler(core().content, database, clock=FakeClock(now), on_due=lambda *note: due.append(note))
    with counting_hops() as hops:
        chunks = [chunk async for chunk in plan.claim_due(limit=2)]
    assert hops[0] == 3  # 5 due in chunks of 2: three transactions, one hop each
    assert sorted(pair for chunk in chunks for pair in chunk) == [(1, "chat1"), (2, "chat2"), (5, "chat5")]
    contexts = json.loads(await scalar(database, "SELECT json_group_array(json(context)) FROM outbox"))
    assert all(c["standalone"] and c["proactive"] for c in contexts)
    # Each message names its reminder and when it was due (the operator's log line and lateness).
    assert sorted((c["reminder_kind"], c["due_at"][11:16]) for c in contexts) == [
        ("session", "17:57"),
        ("session", "18:00"),
        ("weekly_checkin", "17:59"),
    ]
    # The inactive user's reminder is not counted as due; the one 300 minutes late is, as missed.
    assert sorted((kind, round(late), missed) for kind, late, missed in due) == [
        ("session", 0, False),
        ("session", 180, False),
        ("session", 18000, True),
        ("weekly_checkin", 60, False),
    ]
    assert await scalar(database, "SELECT status FROM reminders WHERE user_id = 3") == "paused"
    assert await scalar(database, "SELECT outcome FROM sessions WHERE user_id = 4") == "missed"
    assert not await in_transaction(database)
    with counting_hops() as hops:
        assert await plan.tick() == []  # each occurrence claimed once
    assert hops[0] == 1


# ------------------------------------------------------------ failures leave nothing open


async def test_an_error_inside_the_step_rolls_everything_back(database: Database):
    def half_then_fail(raw: sqlite3.Connection) -> None:
        raw.execute(
            "INSERT INTO users (channel, external_id, created_at, updated_at) VALUES ('t', 'x', '', '')"
        )
        raise ValueError("crash in the middle")

    with pytest.raises(ValueError, match="crash in the middle"):
        await database.write(raw(half_then_fail))
    assert not await in_transaction(database)
    assert await scalar(database, "SELECT count(*) FROM users") == 0
    assert await database.write(raw(lambda connection: connection.execute("SELECT 1").fetchone()[0])) == 1


async def test_a_failed_commit_is_rolled_back_and_its_error_kept(database: Database):
    """A COMMIT can fail and leave the transaction open (here a deferred foreign key)."""

    def orphan_check(raw: sqlite3.Connection) -> None:
        raw.execute("PRAGMA defer_foreign_keys = ON")
        raw.execute(
            "INSERT INTO checks (user_id, flow, status, started_at) VALUES (999, 'f', 'in_progress', '')"
        )

    with pytest.raises(StorageError, match="FOREIGN KEY") as failed:
        await database.write(raw(orphan_check))
    assert isinstance(failed.value.__cause__, sqlite3.IntegrityError)
    assert not await in_transaction(database)
    assert await scalar(database, "SELECT count(*) FROM checks") == 0
    service = ConversationService(core().engine, database)
    assert (await service.handle("t", "u1", Start())).state == "consent"


async def test_sqlites_own_rollback_does_not_hide_the_real_error(database: Database):
    """After SQLITE_FULL or SQLITE_IOERR SQLite may have rolled back already."""

    def full_disk(raw: sqlite3.Connection) -> None:
        raw.execute("ROLLBACK")
        raise sqlite3.OperationalError("database or disk is full")

    with pytest.raises(StorageError, match="database or disk is full"):
        await database.write(raw(full_disk))
    assert not await in_transaction(database)


async def test_a_full_database_fails_the_step_cleanly_and_the_next_one_works(database: Database):
    service = ConversationService(core().engine, database)
    pages = await scalar(database, "PRAGMA page_count")
    await on_worker(database.connection, lambda raw: raw.execute(f"PRAGMA max_page_count = {pages}"))
    long_text = "x" * 3000  # each conversation row needs room of its own
    with pytest.raises(StorageError, match="database or disk is full"):
        for n in range(200):
            await service.handle("t", f"u{n}", Text(long_text), inbox_key=f"k{n}", outbox_context={})
    assert not await in_transaction(database)
    users = await scalar(database, "SELECT count(*) FROM users")
    assert await scalar(database, "SELECT count(*) FROM conversations") == users
    assert await scalar(database, "SELECT count(*) FROM inbox") == users
    await on_worker(database.connection, lambda raw: raw.execute("PRAGMA max_page_count = 1073741823"))
    handled = await service.handle("t", "after", Start(), inbox_key="k-after")
    assert handled.state == "consent" and not handled.duplicate


async def test_a_caller_cancelled_mid_step_leaves_no_transaction_open(database: Database):
    """The step's function runs to its end on the thread and commits whole; nothing is left open."""
    started, release = threading.Event(), threading.Event()

    def slow(raw: sqlite3.Connection) -> None:
        raw.execute(
            "INSERT INTO users (channel, external_id, created_at, updated_at) VALUES ('t', 'x', '', '')"
        )
        started.set()
        release.wait(5)
        raw.execute(
            "INSERT INTO users (channel, external_id, created_at, updated_at) VALUES ('t', 'y', '', '')"
        )

    task = asyncio.create_task(database.write(raw(slow)))
    await asyncio.to_thread(started.wait, 5)
    task.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not await in_transaction(database)
    assert await scalar(database, "SELECT count(*) FROM users") == 2  # all of it, never half
    service = ConversationService(core().engine, database)
    assert (await service.handle("t", "u1", Start())).state == "consent"


async def test_a_caller_cancelled_mid_step_that_then_fails_keeps_nothing(database: Database):
    started, release = threading.Event(), threading.Event()

    def slow_then_fail(raw: sqlite3.Connection) -> None:
        raw.execute(
            "INSERT INTO users (channel, external_id, created_at, updated_at) VALUES ('t', 'x', '', '')"
        )
        started.set()
        release.wait(5)
        raise ValueError("failed after the caller left")

    task = asyncio.create_task(database.write(raw(slow_then_fail)))
    await asyncio.to_thread(started.wait, 5)
    task.cancel()
    release.set()
    with pytest.raises((asyncio.CancelledError, ValueError)):
        await task
    assert not await in_transaction(database)
    assert await scalar(database, "SELECT count(*) FROM users") == 0
    service = ConversationService(core().engine, database)
    assert (await service.handle("t", "u1", Start())).state == "consent"


# ------------------------------------------------------------ writers stay serialised


async def test_a_step_waits_for_a_write_transaction_in_progress(database: Database):
    service = ConversationService(core().engine, database)
    release = threading.Event()

    def long_write(connection: sqlite3.Connection) -> None:
        connection.execute(
            "INSERT INTO users (channel, external_id, created_at, updated_at) VALUES ('t', 'u1', '', '')"
        )
        release.wait(5)

    writing = asyncio.create_task(database.write(raw(long_write)))
    await asyncio.sleep(0.05)
    step = asyncio.create_task(service.handle("t", "u1", Start()))
    await asyncio.sleep(0.05)
    assert not step.done()
    release.set()
    await writing
    handled = await step
    assert handled.user_id == 1 and handled.state == "consent"


# ------------------------------------------------------------ the faster reads and writes


def test_the_emergency_shortcut_agrees_with_full_triage():
    """The engine asks only the EMERGENCY rules after each answer; it must agree with triage."""
    content = core().content
    texts = ["", "I have a fever", RED_FLAG_TEXT, "numb when I wipe", "no fever", "throbbing in my belly"]
    rng = random.Random(20261122)
    for _ in range(3000):
        answers: dict[str, Any] = {key: rng.random() < 0.15 for key in BOOLEAN_KEYS if rng.random() < 0.7}
        answers["pain_now"] = rng.randint(0, 10)
        answers["age"] = rng.choice([15, 30, 55, 70, 85])
        answers["duration_weeks"] = rng.choice([0.1, 1, 4, 20])
        answers["sex"] = rng.choice(["F", "M", "X"])
        answers["pain_location"] = rng.sample(AREAS, rng.randint(0, 3))
        answers["radiates_to"] = rng.sample(AREAS, rng.randint(0, 2))
        if rng.random() < 0.3:
            answers["text"] = rng.choice(texts)
        expected = triage(answers, content).urgency is Urgency.EMERGENCY
        assert is_emergency(answers, content) is expected, answers
