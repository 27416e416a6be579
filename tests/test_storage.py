"""Storage through the core's port, on every backend (SQLite file and PostgreSQL database):
migrations, whole transactions, per-user order, idempotent inputs, the outbox, claiming
due reminders once, leases and the shared broadcast pace. SQLite-only behaviour (WAL, PRAGMAs,
the one hop to aiosqlite's thread) is in tests/test_storage_sqlite.py and
tests/test_storage_speed_path.py."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.events import Help, NewCheck, Press, Start, Text
from bot.core.plan.model import Plan, PlanState
from bot.core.plan.scheduler import Scheduler
from bot.core.ports import Storage, StorageError, Tx
from bot.core.records import Snapshot
from bot.core.service import ConversationService
from bot.storage import open_storage
from tests.storage_support import is_pg, rows, scalar
from tests.support import FakeClock, core

EVERY_DAY = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


async def test_reopening_keeps_data_and_does_not_migrate_twice(storage_target: str):
    first = await open_storage(storage_target)
    try:
        await ConversationService(core().engine, first).handle("test", "u1", Start())
    finally:
        await first.close()
    again = await open_storage(storage_target)
    try:
        handled = await ConversationService(core().engine, again).handle("test", "u1", Start())
        assert "Welcome back" in handled.replies[0].text
        await again.check_ready()
    finally:
        await again.close()


async def test_a_database_newer_than_the_program_is_refused(storage_target: str):
    storage = await open_storage(storage_target)
    try:
        if is_pg(storage):
            await storage.write(lambda tx: tx.raw.execute("UPDATE schema_version SET version = version + 5"))  # type: ignore[attr-defined]
        else:
            await storage.write(lambda tx: tx.raw.execute("PRAGMA user_version = 99"))  # type: ignore[attr-defined]
        # A running instance notices (readiness) ...
        with pytest.raises(StorageError, match="this program needs version"):
            await storage.check_ready()
    finally:
        await storage.close()
    # ... and a new one refuses to start.
    with pytest.raises(StorageError, match="newer than this program"):
        await open_storage(storage_target)


async def test_a_failed_step_leaves_nothing_half_written(storage: Storage):
    def crash_in_the_middle(tx: Tx) -> None:
        tx.users.get_or_create("t", "x")
        raise RuntimeError("crash in the middle")

    with pytest.raises(RuntimeError):
        await storage.write(crash_in_the_middle)
    assert await scalar(storage, "SELECT COUNT(*) FROM users") == 0
    created = await storage.write(lambda tx: tx.users.get_or_create("t", "x"))
    assert await storage.read(lambda tx: tx.users.find("t", "x")) == created


async def test_a_database_error_is_one_storage_error_with_a_plain_message(storage: Storage):
    await storage.write(lambda tx: tx.users.get_or_create("t", "x"))

    def duplicate(tx: Tx) -> None:
        tx.conversations.open_check(999_999, "symptom_check")  # no such user: a foreign key fails

    with pytest.raises(StorageError) as failed:
        await storage.write(duplicate)
    assert "\n" not in str(failed.value) and "foreign key" in str(failed.value).lower()
    assert not failed.value.transient
    assert await storage.write(lambda tx: tx.users.find("t", "x")) is not None  # still usable


async def test_inputs_from_one_user_never_interleave(storage: Storage):
    """Many toggles at once for one user: every one is applied, in turn."""
    service = ConversationService(core().engine, storage)
    await service.handle("test", "u1", Start())
    await service.handle("test", "u1", Press("1:y"))
    # 7 area toggles on question step 2, sent concurrently, twice each -> none selected.
    toggles = [Press(f"2:t{index}") for index in range(7)] * 2
    await asyncio.gather(*(service.handle("test", "u1", event) for event in toggles))
    assert await rows(storage, "SELECT pending, step FROM conversations") == [("[]", 2)]
    await asyncio.gather(*(service.handle("test", "u1", Press(f"2:t{i}")) for i in range(7)))
    handled = await service.handle("test", "u1", Press("2:ok"))
    assert handled.state == "radiates_to"


async def test_one_users_inputs_through_two_connections_to_one_database_never_interleave(
    storage_target: str,
):
    """As two instances behind a load balancer would: the same person's taps arrive at both."""
    first, second = await open_storage(storage_target), await open_storage(storage_target)
    try:
        a = ConversationService(core().engine, first)
        b = ConversationService(core().engine, second)
        await a.handle("telegram", "u1", Start())
        await b.handle("telegram", "u1", Press("1:y"))
        toggles = [(a if n % 2 else b, Press(f"2:t{n % 7}")) for n in range(28)]  # each area 4 times
        await asyncio.gather(*(service.handle("telegram", "u1", event) for service, event in toggles))
        assert await rows(first, "SELECT pending, step FROM conversations") == [("[]", 2)]
    finally:
        await first.close()
        await second.close()


async def test_many_users_concurrently_each_keep_their_own_state(storage: Storage):
    service = ConversationService(core().engine, storage)
    users = [f"user{n}" for n in range(30)]
    await asyncio.gather(*(service.handle("test", user, Start()) for user in users))
    await asyncio.gather(*(service.handle("test", user, Text("yes")) for user in users))
    await asyncio.gather(*(service.handle("test", user, Text("groin")) for user in users))
    assert await rows(storage, "SELECT state, COUNT(*) FROM conversations GROUP BY state") == [
        ("radiates_to", 30)
    ]


async def test_two_processes_worth_of_connections_share_one_database(storage_target: str):
    first, second = await open_storage(storage_target), await open_storage(storage_target)
    try:
        a = ConversationService(core().engine, first)
        b = ConversationService(core().engine, second)
        await asyncio.gather(
            *(a.handle("test", f"a{n}", Start()) for n in range(20)),
            *(b.handle("test", f"b{n}", Start()) for n in range(20)),
        )
        assert await scalar(first, "SELECT COUNT(*) FROM users") == 40
    finally:
        await first.close()
        await second.close()


async def test_a_redelivered_update_is_applied_once(storage: Storage):
    service = ConversationService(core().engine, storage)
    await service.handle("t", "u1", Start())
    first = await service.handle("t", "u1", Press("1:y"), inbox_key="u:7", outbox_context={})
    again = await service.handle("t", "u1", Press("1:y"), inbox_key="u:7", outbox_context={})
    assert again.duplicate and not again.replies and again.user_id == first.user_id
    assert await scalar(storage, "SELECT step FROM conversations") == 2
    assert await scalar(storage, "SELECT count(*) FROM outbox") == len(first.outbox_ids)
    assert await scalar(storage, "SELECT count(*) FROM inbox") == 1


async def test_one_update_given_to_two_instances_at_once_is_applied_once(storage_target: str):
    first, second = await open_storage(storage_target), await open_storage(storage_target)
    try:
        a = ConversationService(core().engine, first)
        b = ConversationService(core().engine, second)
        await a.handle("t", "u1", Start(), inbox_key="u:1", outbox_context={})
        both = await asyncio.gather(
            *(
                service.handle("t", "u1", Press("1:y"), inbox_key=f"u:{n}", outbox_context={})
                for n in range(2, 12)
                for service in (a, b)
            )
        )
        assert sum(not handled.duplicate for handled in both) == 10
        assert await scalar(first, "SELECT count(*) FROM inbox") == 11
    finally:
        await first.close()
        await second.close()


async def test_outbox_ids_follow_the_order_of_the_replies(storage: Storage):
    service = ConversationService(core().engine, storage)
    await service.handle("t", "u1", NewCheck(), outbox_context={"n": 1})
    handled = await service.handle("t", "u1", Help(), outbox_context={"n": 2})  # a note, then the question
    assert len(handled.outbox_ids) == len(handled.replies) > 1
    leased = await storage.write(lambda tx: tx.outbox.lease(handled.user_id, 60))
    tail = leased.items[-len(handled.replies) :]
    assert [item.id for item in tail] == handled.outbox_ids
    assert [item.payload["text"] for item in tail] == [reply.text for reply in handled.replies]
    assert all(item.context == {"n": 2, "language": "en"} for item in tail)  # the front's, and the language


async def test_a_lease_holds_across_connections_and_a_sent_reply_is_never_leased_again(storage_target: str):
    first, second = await open_storage(storage_target), await open_storage(storage_target)
    try:
        service = ConversationService(core().engine, first)
        handled = await service.handle("t", "u1", Start(), outbox_context={"n": 1})
        user = handled.user_id
        leases = await asyncio.gather(
            *(
                store.write(lambda tx: tx.outbox.lease(user, 60))
                for store in (first, second)
                for _ in range(3)
            )
        )
        taken = [item.id for lease in leases for item in lease.items]
        assert sorted(taken) == handled.outbox_ids  # each reply leased by exactly one sender
        assert await second.read(lambda tx: tx.outbox.users_with_unsent("t")) == []  # all leased
        for outbox_id in taken:
            await first.write(lambda tx, outbox_id=outbox_id: tx.outbox.mark_sent(outbox_id, user, 42))
        # Once sent, nothing is owed, and an expired lease does not bring a sent reply back.
        assert (await second.write(lambda tx: tx.outbox.lease(user, 0))).items == []
        assert (await second.write(lambda tx: tx.outbox.lease(user, 60))).question_message_id == 42
        assert await first.read(lambda tx: tx.outbox.backlog()) == 0
    finally:
        await first.close()
        await second.close()


async def test_an_expired_lease_is_taken_over_and_parts_sent_are_remembered(storage: Storage):
    service = ConversationService(core().engine, storage)
    handled = await service.handle("t", "u1", Start(), outbox_context={"n": 1})
    user = handled.user_id
    first = await storage.write(lambda tx: tx.outbox.lease(user, 0.01))
    await storage.write(lambda tx: tx.outbox.note_parts_sent(first.items[0].id, 2))
    await asyncio.sleep(0.05)
    assert await storage.read(lambda tx: tx.outbox.users_with_unsent("t")) == [(user, "u1")]
    again = await storage.write(lambda tx: tx.outbox.lease(user, 60))
    assert [item.id for item in again.items] == [item.id for item in first.items]
    assert again.items[0].context == {"n": 1, "language": "en", "parts_sent": 2}
    await storage.write(lambda tx: tx.outbox.drop_unsent(user))
    assert await storage.read(lambda tx: tx.outbox.backlog()) == 0


async def test_a_caller_cancelled_mid_step_leaves_all_of_it_or_nothing(storage: Storage):
    started, release = threading.Event(), threading.Event()

    def slow(tx: Tx) -> None:
        tx.users.get_or_create("t", "x")
        started.set()
        release.wait(5)
        tx.users.get_or_create("t", "y")

    task = asyncio.create_task(storage.write(slow))
    await asyncio.to_thread(started.wait, 5)
    task.cancel()
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    for _ in range(100):  # the work finishes in its thread after the caller has gone
        if await scalar(storage, "SELECT count(*) FROM users") == 2:
            break
        await asyncio.sleep(0.02)
    assert await scalar(storage, "SELECT count(*) FROM users") == 2  # all of it, never half
    service = ConversationService(core().engine, storage)
    assert (await service.handle("t", "u1", Start())).state == "consent"


async def test_concurrent_steps_of_many_users_each_commit_whole(storage: Storage):
    service = ConversationService(core().engine, storage)
    users = [f"user{n}" for n in range(20)]
    await asyncio.gather(
        *(service.handle("t", user, Start(), inbox_key=f"{user}:1", outbox_context={}) for user in users)
    )
    await asyncio.gather(
        *(service.handle("t", user, Press("1:y"), inbox_key=f"{user}:2", outbox_context={}) for user in users)
    )
    assert await scalar(storage, "SELECT count(*) FROM conversations WHERE state = 'pain_location'") == 20
    assert await scalar(storage, "SELECT count(*) FROM inbox") == 40


async def test_answers_of_any_shape_round_trip_through_the_one_query_load(storage: Storage):
    answers: dict[str, Any] = {
        "fever": True,
        "trauma": False,
        "pain_now": 7,
        "duration_weeks": 0.1,
        "big": 1e300,
        "tiny": 5e-324,
        "text": 'quotes " and \\ backslash, ünïcödé, emoji 🦴, newline\nand tab\t',
        "pain_location": ["groin", "hip_front"],
        "nested": {"z": [1, None, {"b": "c"}], "a": 1},
        'odd "key" \\ with ünïcode': None,
        "Zebra": "capital first",
        "": "",
    }

    def save(tx: Tx) -> tuple[int, Snapshot]:
        user_id = tx.users.get_or_create("t", "u1")
        check_id = tx.conversations.open_check(user_id, "f")
        saved = Snapshot(
            state="pain_now",
            step=3,
            history=("consent",),
            answers=answers,
            check_id=check_id,
            result={"urgency": "SELF_CARE", "score": 1e300},
            context={"setup": {"days": ["mon"]}},
        )
        tx.conversations.save(user_id, Snapshot(), saved)
        return user_id, saved

    user_id, saved = await storage.write(save)
    loaded = await storage.read(lambda tx: tx.conversations.load_for(user_id))
    assert await storage.read(lambda tx: tx.users.find("t", "u1")) == user_id
    assert loaded == saved
    assert list(loaded.answers) == sorted(answers)  # in key order, as both backends keep them
    assert list(loaded.answers["nested"]) == ["z", "a"]  # a stored value keeps its own key order
    assert type(loaded.answers["big"]) is float and type(loaded.answers["pain_now"]) is int


async def test_a_new_user_and_a_user_with_no_conversation_load_empty(storage: Storage):
    def load(tx: Tx) -> Any:
        created = tx.conversations.load("t", "new")
        again = tx.conversations.load("t", "new")
        tx.users.set_timezone(created[0], "Europe/Oslo")
        tx.users.set_quiet_hours(created[0], "23:00", "06:30")
        zoned = tx.conversations.load("t", "new")
        return created, again, zoned

    created, again, zoned = await storage.write(load)
    assert created[0] == again[0] == zoned[0]
    assert created[1] == again[1] and created[1].state is None and created[1].answers == {}
    assert zoned[1].context == {"timezone": "Europe/Oslo", "quiet": ["23:00", "06:30"]}


async def test_a_chosen_language_wins_over_what_the_app_reports(storage: Storage):
    """What the app reports is kept for later messages, until the person chooses one."""

    def steps(tx: Tx) -> list[str | None]:
        user = tx.users.get_or_create("t", "polyglot")
        seen = []
        tx.users.set_language(user, "de", chosen=False)
        seen.append(tx.users.language(user))
        tx.users.set_language(user, "es", chosen=False)  # the phone's language changed
        seen.append(tx.users.language(user))
        tx.users.set_language(user, "en")  # chosen with /language
        tx.users.set_language(user, "de", chosen=False)
        seen.append(tx.users.language(user))
        seen.append(tx.users.language(user + 1000))
        return seen

    assert await storage.write(steps) == ["de", "es", "en", None]


async def test_records_come_back_the_same_on_every_backend(storage: Storage):
    """Times in UTC to the second, flags as booleans, JSON as it went in."""
    moment = datetime(2026, 3, 29, 1, 30, 15, 987654, tzinfo=UTC)

    def fill(tx: Tx) -> dict[str, Any]:
        user = tx.users.get_or_create("t", "u1")
        tx.users.set_language(user, "de")
        plan = Plan(
            state=PlanState.ACTIVE,
            routine="desk-sitter",
            level=1,
            baseline_pain=4,
            reference_pain=None,
            reference_at=moment,
            started_at=moment,
            assessed_ball=True,
            ball_withdrawn=False,
            forbidden_tags=frozenset({"prone", "abdominal_pressure"}),
        )
        tx.plans.save(user, plan)
        reminder = tx.reminders.add(user, "session", EVERY_DAY, "07:30", "Europe/Berlin", moment)
        session = tx.sessions.add(user, reminder, moment, "desk-sitter")
        assert session is not None
        assert tx.sessions.add(user, reminder, moment, "desk-sitter") is None  # recorded once
        tx.sessions.update(session, outcome="hurt", hurt_settled=False, hurt_pain=6)
        checkin = tx.checkins.add(user, reminder, "weekly", moment)
        assert checkin is not None
        tx.checkins.update(checkin, pain_now=3, settled=True, new_flags=("fever",), answered_at=moment)
        tx.conversations.save_assessment(user, None, "SELF_CARE", ["no_red_flags"], True, "desk-sitter")
        return {
            "user": user,
            "plan": tx.plans.get(user),
            "reminder": tx.reminders.get(user, reminder),
            "session": tx.sessions.get(user, session),
            "unsettled": tx.sessions.unsettled_hurt(user),
            "checkin": tx.checkins.get(user, checkin),
            "answered": tx.checkins.answered(user),
            "language": tx.users.language(user),
            "assessments": tx.conversations.assessments(user),
        }

    found = await storage.write(fill)
    whole_second = moment.replace(microsecond=0)
    assert found["plan"].reference_at == whole_second and found["plan"].reference_at.tzinfo == UTC
    assert found["plan"].forbidden_tags == frozenset({"prone", "abdominal_pressure"})
    assert found["plan"].assessed_ball is True and found["plan"].reference_pain is None
    assert found["reminder"].due_at == whole_second and found["reminder"].days == EVERY_DAY
    assert found["session"].hurt_settled is False and found["session"].outcome == "hurt"
    assert found["unsettled"] == found["session"].id
    assert found["checkin"].settled is True and found["checkin"].new_flags == ("fever",)
    assert found["answered"] == [found["checkin"]] and found["checkin"].answered_at == whole_second
    assert found["language"] == "de"
    [assessment] = found["assessments"]
    assert assessment.reasons == ("no_red_flags",) and assessment.ball_release_allowed is True
    assert datetime.fromisoformat(assessment.created_at).tzinfo is not None
    exported = await storage.read(lambda tx: tx.users.export(found["user"]))
    assert exported["user"][0]["active"] == 1 and exported["sessions"][0]["hurt_settled"] == 0
    assert isinstance(exported["reminders"][0]["due_at"], str)
    await storage.write(lambda tx: tx.users.delete(found["user"]))
    for table in ("users", "plans", "reminders", "sessions", "checkins", "assessments"):
        assert await scalar(storage, f"SELECT count(*) FROM {table}") == 0, table


async def seed_due(storage: Storage, now: datetime, count: int) -> None:
    def seed(tx: Tx) -> None:
        for n in range(count):
            user = tx.users.get_or_create("telegram", f"chat{n}")
            tx.plans.save(
                user,
                Plan(
                    state=PlanState.ACTIVE,
                    routine="desk-sitter",
                    level=0,
                    baseline_pain=4,
                    reference_pain=4,
                    reference_at=now,
                    started_at=now,
                    assessed_ball=False,
                    ball_withdrawn=False,
                    forbidden_tags=frozenset(),
                ),
            )
            tx.reminders.add(user, "session", EVERY_DAY, "18:00", "UTC", now - timedelta(seconds=n))

    await storage.write(seed)


async def test_two_schedulers_claiming_at_once_claim_each_reminder_once(storage_target: str):
    now = datetime(2026, 3, 20, 18, 0, 30, tzinfo=UTC)
    first, second = await open_storage(storage_target), await open_storage(storage_target)
    try:
        await seed_due(first, now, 60)
        schedulers = [Scheduler(core().content, store, clock=FakeClock(now)) for store in (first, second)]
        claimed = await asyncio.gather(*(s.tick(limit=7) for s in schedulers for _ in range(2)))
        users = [user for batch in claimed for user, _chat in batch]
        assert sorted(users) == sorted(set(users)) and len(users) == 60
        assert await scalar(first, "SELECT count(*) FROM sessions") == 60
        assert await scalar(first, "SELECT count(*) FROM outbox") == 60
        assert await scalar(first, "SELECT count(*) FROM reminders WHERE due_at <= ?", now.isoformat()) == 0
    finally:
        await first.close()
        await second.close()


async def test_due_reminders_locked_by_one_claimer_are_skipped_by_another(storage_target: str):
    """The first claimer's transaction is still open: the second takes the others at once."""
    now = datetime(2026, 3, 20, 18, 0, 30, tzinfo=UTC)
    first, second = await open_storage(storage_target), await open_storage(storage_target)
    try:
        await seed_due(first, now, 6)
        if not is_pg(first):
            pytest.skip("SQLite has one writer: a second claimer waits for the first instead")
        holding, release = threading.Event(), threading.Event()

        def hold(tx: Tx) -> list[int]:
            taken = [item.reminder.id for item in tx.reminders.due(now, 3)]
            holding.set()
            release.wait(5)
            return taken

        held = asyncio.create_task(first.write(hold))
        await asyncio.to_thread(holding.wait, 5)
        others = await second.write(lambda tx: [item.reminder.id for item in tx.reminders.due(now, 10)])
        release.set()
        taken = await held
        assert len(taken) == 3 and len(others) == 3 and not set(taken) & set(others)
    finally:
        await first.close()
        await second.close()


async def test_the_broadcast_pace_is_shared_by_every_connection(storage_target: str):
    first, second = await open_storage(storage_target), await open_storage(storage_target)
    try:
        waits = await asyncio.gather(
            *(store.write(lambda tx: tx.broadcast.claim(0.1)) for store in (first, second) for _ in range(5))
        )
        # Ten starts 0.1 s apart, whoever asked: the last is about 0.9 s away.
        assert sorted(round(wait, 1) for wait in waits) == pytest.approx(
            [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], abs=0.15
        )
        await asyncio.sleep(1.2)
        assert await first.write(lambda tx: tx.broadcast.claim(0.1)) <= 0.0  # idle: at once again
    finally:
        await first.close()
        await second.close()


async def test_only_a_database_several_processes_share_says_so(storage_target: str):
    # The bot takes its broadcast pace from the database only when it is shared (PostgreSQL);
    # one process on an SQLite file paces in memory, without a transaction per reminder.
    store = await open_storage(storage_target)
    try:
        assert store.shared is storage_target.startswith("postgresql")
    finally:
        await store.close()


async def test_retention_keeps_owed_replies(storage: Storage):
    from bot.adapters.telegram.runner import RETENTION

    service = ConversationService(core().engine, storage)
    await service.handle("telegram", "1", Start(), inbox_key="update:1", outbox_context={})
    assert await storage.prune(datetime.now(UTC) + timedelta(days=30), RETENTION) == {"inbox": 1, "outbox": 0}
    assert await storage.read(lambda tx: tx.outbox.backlog()) >= 1


def test_both_backends_end_with_the_same_tables_and_columns(tmp_path: Path, postgres_database: str):
    """Two migration lists, one schema: same tables, same column names (types are each dialect's)."""
    import psycopg

    async def migrate() -> None:
        for target in (str(tmp_path / "bot.db"), postgres_database):
            await (await open_storage(target)).close()

    asyncio.run(migrate())
    with sqlite3.connect(tmp_path / "bot.db") as connection:
        tables = [
            name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        on_sqlite = {
            table: sorted(column[1] for column in connection.execute(f"PRAGMA table_info({table})"))
            for table in tables
        }
    with psycopg.connect(postgres_database) as connection:
        on_postgres: dict[str, list[str]] = {}
        for table, column in connection.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"
        ):
            on_postgres.setdefault(table, []).append(column)
    on_postgres = {
        table: sorted(columns) for table, columns in on_postgres.items() if table != "schema_version"
    }
    assert on_postgres == on_sqlite


async def test_postgresql_errors_are_plain_and_say_whether_they_pass(postgres_database: str):
    """A lock timeout is transient; connections cut under the pool (as a server restart does)
    are replaced without the caller noticing."""
    import psycopg

    storage = await open_storage(postgres_database)
    try:
        user = await storage.write(lambda tx: tx.users.get_or_create("t", "x"))
        holding, release = threading.Event(), threading.Event()

        def hold(tx: Tx) -> None:
            tx.users.set_timezone(user, "Europe/Oslo")  # locks the user's row
            holding.set()
            release.wait(5)

        held = asyncio.create_task(storage.write(hold))
        await asyncio.to_thread(holding.wait, 5)

        def impatient(tx: Tx) -> None:
            tx.raw.execute("SET LOCAL lock_timeout = '100ms'")  # type: ignore[attr-defined]
            tx.users.set_timezone(user, "Europe/Paris")

        with pytest.raises(StorageError) as failed:
            await storage.write(impatient)
        release.set()
        await held
        assert failed.value.transient and "\n" not in str(failed.value) and "lock" in str(failed.value)

        # Every connection of the pool is cut, as when the server restarts ...
        with psycopg.connect(postgres_database, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        # ... and the next units of work run on fresh ones.
        for zone in ("Asia/Tokyo", "America/Lima", "Africa/Lagos"):
            await storage.write(lambda tx, zone=zone: tx.users.set_timezone(user, zone))
        assert await storage.read(lambda tx: tx.users.timezone(user)) == "Africa/Lagos"
    finally:
        await storage.close()
