"""Guided sessions: a routine walked through one exercise at a time, through the real services
on a real SQLite file (the Telegram end to end test, with pictures, is in test_telegram_plan.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.core.events import ShowRoutine, Text
from bot.storage.sqlite import SqliteStorage as Database
from tests.plan_support import World, buttons, fire_session
from tests.support import FakeClock, reminders_core


@pytest.fixture(scope="module")
def core() -> Any:
    return reminders_core()


@pytest.fixture()
async def world(core: Any, tmp_path: Path):
    clock = FakeClock(datetime(2026, 3, 20, 9, 0, tzinfo=UTC))
    async with Database(tmp_path / "bot.db") as database:
        yield World(core, database, clock)


def data(message: dict[str, Any], label_start: str) -> str:
    return next(b[0] for row in message["buttons"] for b in row if b[1].startswith(label_start))


async def test_a_guided_session_from_a_reminder_walks_every_exercise_and_is_logged_once(world: World):
    await world.check_and_set_reminders("UTC", "18:00")  # desk-sitter: five exercises
    session = await fire_session(world)
    first = (await world.press_plan(f"r:{session}:g"))[-1]
    assert first["title"] == "1 of 5: Movement breaks from sitting"
    assert first["image"] == "movement_breaks" and "You should feel:" in first["text"]
    assert buttons(first) == ["Next ▶", "Skip this one", "This hurts", "⏸ Stop for now"]  # no hold to time
    second = (await world.press_plan(data(first, "Next")))[-1]
    assert second["title"] == "2 of 5: Kneeling hip flexor stretch" and second["image"]
    assert buttons(second)[0] == "⏱ Time the 30 s hold"
    timer = (await world.press_plan(data(second, "⏱")))[-1]
    assert timer["timer"] == 30 and "Hold for 30 seconds" in timer["text"]
    stale = await world.press_plan(data(first, "Next"))  # the first step's button, again
    assert [m["text"] for m in stale] == ["Thanks, I have already noted that one."]
    third = (await world.press_plan(data(second, "Skip")))[-1]
    assert third["title"].startswith("3 of 5")
    step = third
    for _ in range(2):
        step = (await world.press_plan(data(step, "Next")))[-1]
    assert step["title"].startswith("5 of 5") and buttons(step)[0] == "✓ Finish"  # breathing: nothing to time
    done = await world.press_plan(data(step, "✓ Finish"))
    assert (
        "Session done" in done[-1]["text"]
        and "Skipped this time: Kneeling hip flexor stretch" in done[-1]["text"]
    )
    assert await world.rows("SELECT outcome FROM sessions") == [("done",)]
    assert await world.rows("SELECT COUNT(*) FROM reminders WHERE kind = 'day_after_checkin'") == [(1,)]


async def test_a_restart_mid_session_carries_on_where_the_person_was(world: World, core: Any):
    await world.check_and_set_reminders("UTC", "18:00")
    session = await fire_session(world)
    first = (await world.press_plan(f"r:{session}:g"))[-1]
    second = (await world.press_plan(data(first, "Next")))[-1]
    # A new set of services on the same database, as after a restart of the bot.
    restarted = World(core, world.database, world.clock)
    restarted.seen = world.seen
    third = (await restarted.press_plan(data(second, "Next")))[-1]
    assert third["title"].startswith("3 of 5")
    stopped = (await restarted.press_plan(data(third, "⏸")))[-1]
    assert buttons(stopped) == ["▶ Carry on"]
    world.clock.advance(hours=3)
    again = (await restarted.press_plan(stopped["buttons"][0][0][0]))[-1]
    assert again["title"] == third["title"]
    world.clock.advance(hours=10)  # past the time a session can be resumed
    expired = await restarted.press_plan(data(again, "Next"))
    assert "That session has ended" in expired[-1]["text"]


async def test_this_hurts_records_the_exercise_and_reaches_the_plan_rules(world: World):
    await world.check_and_set_reminders("UTC", "18:00")
    session = await fire_session(world)
    first = (await world.press_plan(f"r:{session}:g"))[-1]
    second = (await world.press_plan(data(first, "Next")))[-1]
    where = await world.press_plan(data(second, "This hurts"))
    assert "Where did you feel it?" in where[-1]["text"]
    await world.press_plan(f"h:{session}:a1")
    await world.press_plan(f"h:{session}:p7")
    eased = await world.press_plan(f"h:{session}:sn")
    assert any(m.get("title") == "⚠️ Let's ease off" for m in eased)
    assert await world.rows("SELECT outcome, hurt_exercise, hurt_pain FROM sessions") == [
        ("hurt", "half_kneeling_hip_flexor_stretch", 7)
    ]
    assert await world.rows("SELECT state FROM plans") == [("eased",)]
    # The session ended where it hurt: its later buttons change nothing.
    stale = await world.press_plan(data(second, "Next"))
    assert [m["text"] for m in stale] == ["Thanks, I have already noted that one."]


async def test_a_session_started_from_routine_needs_no_reminder(world: World):
    await world.check_and_set_reminders("UTC", "18:00")
    overview = (await world.send(ShowRoutine()))[0]
    first = (await world.press_plan(data(overview, "▶ Start")))[-1]
    assert first["title"].startswith("1 of 5")
    assert await world.rows("SELECT reminder_id, outcome FROM sessions") == [(None, "sent")]
    world.clock.advance(minutes=20)
    second = (await world.press_plan(data(first, "Next")))[-1]
    assert second["title"].startswith("2 of 5")


async def test_no_guided_session_while_the_plan_is_paused(world: World):
    await world.check_and_set_reminders("UTC", "18:00")
    overview = (await world.send(ShowRoutine()))[0]
    start = data(overview, "▶ Start")
    await world.send(Text("I've got a fever and the shakes"))
    refused = await world.press_plan(start)
    assert len(refused) == 1 and "no exercises for you right now" in refused[0]["text"]
    assert await world.rows("SELECT COUNT(*) FROM sessions") == [(0,)]


async def test_a_press_delivered_twice_is_applied_once(world: World):
    """After a crash Telegram delivers an unconfirmed button press again; the plan's buttons carry
    the update id as an inbox key, as every other input does, so the second delivery does nothing."""
    await world.check_and_set_reminders("UTC", "18:00")
    session = await fire_session(world)
    first = (await world.press_plan(f"r:{session}:g"))[-1]
    press = data(first, "Next")
    once = await world.plan.press("telegram", world.user, press, 99, inbox_key="update:41:plan")
    again = await world.plan.press("telegram", world.user, press, 99, inbox_key="update:41:plan")
    assert not once.duplicate and again.duplicate and again.user_id == once.user_id
    shown = await world.new_messages()
    assert [m["title"] for m in shown] == ["2 of 5: Kneeling hip flexor stretch"]  # no "already noted"
    assert shown[0]["image"] == "half_kneeling_hip_flexor_stretch"
