"""Reminders, check-ins and plan changes through the real services and a real
SQLite file, with an injected clock (no test sleeps)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.core.events import ChangeTimezone, Press, ShowRoutine, Start, Text
from bot.core.plan.scheduler import Scheduler
from bot.storage import open_storage
from bot.storage.sqlite import SqliteStorage as Database
from tests.plan_support import TYPICAL, World, answer_checkin, buttons, fire_session
from tests.support import FakeClock, reminders_core


@pytest.fixture(scope="module")
def core():
    return reminders_core()


@pytest.fixture()
async def world(core, storage_target: str):
    """On every backend: the plan and scheduler flows are the same on SQLite and PostgreSQL."""
    clock = FakeClock(datetime(2026, 3, 20, 9, 0, tzinfo=UTC))  # a Friday
    database = await open_storage(storage_target)
    try:
        yield World(core, database, clock)
    finally:
        await database.close()


async def test_setting_reminders_stores_local_time_zone_and_the_right_utc_moment(world: World):
    await world.check_and_set_reminders("Berlin", "18:00")
    reminders = await world.rows(
        "SELECT kind, days, local_time, timezone, due_at, status FROM reminders ORDER BY id"
    )
    assert [r[0] for r in reminders] == ["session", "weekly_checkin"]
    _kind, days, local_time, zone, due_at, status = reminders[0]
    assert (local_time, zone, status) == ("18:00", "Europe/Berlin", "active")
    assert json.loads(days) == ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]  # desk-sitter: daily
    # 2026-03-20 is CET (UTC+1): 18:00 local is 17:00 UTC, the same day.
    assert datetime.fromisoformat(due_at) == datetime(2026, 3, 20, 17, 0, tzinfo=UTC)
    assert await world.rows("SELECT timezone FROM users") == [("Europe/Berlin",)]
    plan = await world.rows("SELECT state, routine, baseline_pain, assessed_ball, ball_withdrawn FROM plans")
    assert plan == [("active", "desk-sitter", 4, 1, 0)]


async def test_a_time_inside_quiet_hours_is_refused_with_a_hint(world: World):
    await world.send(Start())
    await world._answer_through_service(TYPICAL)
    await world.send(Press(f"{await world.step()}:rem"))
    await world.send(Text("UTC"))
    await world.send(Press(f"{await world.step()}:ok"))
    refused = await world.send(Text("23:15"))
    assert any("quiet hours (22:00 to 07:00" in m["text"] for m in refused)
    assert await world.rows("SELECT COUNT(*) FROM reminders") == [(0,)]


async def test_each_reminder_is_sent_exactly_once_at_its_time(world: World):
    await world.check_and_set_reminders("Berlin", "18:00")
    world.clock.moment = datetime(2026, 3, 20, 16, 59, tzinfo=UTC)
    assert await world.scheduler.tick() == []
    world.clock.moment = datetime(2026, 3, 20, 17, 0, 5, tzinfo=UTC)
    assert len(await world.scheduler.tick()) == 1
    assert await world.scheduler.tick() == []
    sent = await world.new_messages()
    assert len(sent) == 1
    assert buttons(sent[0]) == [
        "▶ Start: guide me through it",
        "✓ Done",
        "⏰ Snooze 30 min",
        "Skip today",
        "It hurt",
        "📖 How to do each one",
    ]
    assert "Time for your routine" in sent[0]["text"]
    assert "hold 30 s" in sent[0]["text"]  # the exercises and their doses lead the card
    assert sent[0]["text"].count("⚠️") == 1 and "Safety notes:" not in sent[0]["text"]  # one safety line


async def test_a_reminder_is_one_short_card_with_the_steps_one_tap_away(world: World):
    await world.check_and_set_reminders("UTC", "18:00")
    world.clock.moment = datetime(2026, 3, 20, 18, 0, 30, tzinfo=UTC)
    await world.scheduler.tick()
    card = (await world.new_messages())[-1]
    overview = (await world.send(ShowRoutine()))[0]
    steps_token = next(b[0] for row in overview["buttons"] for b in row if b[0].endswith(":steps"))
    shown = await world.send(Press(steps_token))
    # One message per exercise, each with its picture, then the safety notes.
    listed = [
        line.split(". ", 1)[1].split(":")[0] for line in overview["text"].splitlines() if line[:1].isdigit()
    ]
    assert [m["title"].split(": ", 1)[1] for m in shown[:-1]] == listed
    assert all(m.get("image") for m in shown[:-1]) and "Safety notes" in shown[-1]["title"]
    assert len(card["text"]) < sum(len(m["text"]) for m in shown) / 2  # names and doses, not every step
    assert "You should feel:" not in card["text"] and all("You should feel:" in m["text"] for m in shown[:-1])
    session = card["buttons"][0][0][0].split(":")[1]
    steps = await world.press_plan(f"r:{session}:v")
    assert [m["text"] for m in steps] == [m["text"] for m in shown]  # as /routine's steps show them
    assert await world.rows("SELECT outcome FROM sessions") == [("sent",)]  # still waiting for Done
    await world.press_plan(f"r:{session}:d")
    again = await world.press_plan(f"r:{session}:v")
    assert [m["text"] for m in again] == [m["text"] for m in shown]  # looking the steps up later still works


async def test_every_reminder_card_fits_in_one_telegram_message(world: World):
    from bot.core.routines import personalise

    content = world.core.content
    for routine in content.routines.values():
        for forbidden in (frozenset(), frozenset({"abdominal_pressure"})):
            for level in range(routine.level_count):
                card = world.plan.present.reminder_card(personalise(routine, forbidden, content, level))
                assert len(f"{card.title}\n\n{card.text}") <= 1024, routine.id  # one phone screen


async def test_old_reminder_cards_show_no_exercises_once_reminders_are_paused(world: World):
    await world.check_and_set_reminders("UTC", "18:00")
    world.clock.moment = datetime(2026, 3, 20, 18, 0, 30, tzinfo=UTC)
    await world.scheduler.tick()
    session = (await world.new_messages())[-1]["buttons"][0][0][0].split(":")[1]
    shown = await world.send(Text("since this morning it's numb when I wipe"))
    assert any("Get emergency help now" in str(m.get("title")) for m in shown)
    refused = await world.press_plan(f"r:{session}:v")
    assert len(refused) == 1 and "no exercises for you right now" in refused[0]["text"]
    assert "hold" not in refused[0]["text"]


async def test_daylight_saving_keeps_the_local_time(core, tmp_path: Path):
    clock = FakeClock(datetime(2026, 3, 27, 12, 0, tzinfo=UTC))
    async with Database(tmp_path / "bot.db") as database:
        world = World(core, database, clock)
        await world.check_and_set_reminders("Europe/London", "07:30")
        fired: list[datetime] = []
        for _ in range(4 * 24 * 4):  # four days in 15-minute steps
            clock.advance(minutes=15)
            if await world.scheduler.tick():
                rows = await world.rows("SELECT occurrence FROM sessions ORDER BY id DESC LIMIT 1")
                fired.append(datetime.fromisoformat(rows[0][0]))
        local = [moment.astimezone(ZoneInfo("Europe/London")) for moment in fired]
        assert [(m.day, m.hour, m.minute) for m in local] == [
            (28, 7, 30),
            (29, 7, 30),
            (30, 7, 30),
            (31, 7, 30),
        ]
        assert [m.hour for m in fired] == [7, 6, 6, 6]  # GMT before the change, BST (UTC+1) after


async def test_after_downtime_a_recent_miss_is_sent_once_and_an_old_one_skipped(world: World):
    await world.check_and_set_reminders("UTC", "18:00")
    world.clock.moment = datetime(2026, 3, 20, 19, 30, tzinfo=UTC)  # 1.5 h late
    assert len(await world.scheduler.tick()) == 1
    world.clock.moment = datetime(2026, 3, 21, 21, 0, tzinfo=UTC)  # 3 h late for the 21st
    assert await world.scheduler.tick() == []
    outcomes = await world.rows("SELECT occurrence, outcome FROM sessions ORDER BY id")
    assert [o for _, o in outcomes] == ["sent", "missed"]
    due = await world.rows("SELECT due_at FROM reminders WHERE kind = 'session'")
    assert datetime.fromisoformat(due[0][0]) == datetime(2026, 3, 22, 18, 0, tzinfo=UTC)


async def test_two_schedulers_on_one_database_send_each_reminder_once(core, storage_target: str):
    clock = FakeClock(datetime(2026, 3, 20, 9, 0, tzinfo=UTC))
    async with contextlib.AsyncExitStack() as stack:
        first = await open_storage(storage_target)
        stack.push_async_callback(first.close)
        second = await open_storage(storage_target)
        stack.push_async_callback(second.close)
        users = [World(core, first, clock, user=f"u{n}") for n in range(12)]
        for world in users:
            await world.check_and_set_reminders("UTC", "18:00")
        a, b = Scheduler(core.content, first, clock), Scheduler(core.content, second, clock)
        clock.moment = datetime(2026, 3, 20, 18, 0, 30, tzinfo=UTC)
        claimed = await asyncio.gather(*(service.tick() for service in (a, b, a, b)))
        assert sum(len(batch) for batch in claimed) == 12
        rows = await users[0].rows("SELECT COUNT(*), COUNT(DISTINCT user_id) FROM sessions")
        assert rows == [(12, 12)]
        reminder_messages = await users[0].rows(
            "SELECT COUNT(*) FROM outbox WHERE CAST(payload AS TEXT) LIKE '%Time for your routine%'"
        )
        assert reminder_messages == [(12,)]


async def test_a_blocked_user_gets_no_reminders_and_they_are_paused(world: World):
    await world.check_and_set_reminders("UTC", "18:00")
    await world.chat.set_active("telegram", world.user, False)
    world.clock.moment = datetime(2026, 3, 20, 18, 1, tzinfo=UTC)
    assert await world.scheduler.tick() == []
    assert await world.rows("SELECT DISTINCT status FROM reminders") == [("paused",)]


async def test_done_schedules_a_check_in_next_morning_and_two_worse_check_ins_ease_the_plan(world: World):
    await world.check_and_set_reminders("UTC", "18:00")
    world.clock.moment = datetime(2026, 3, 20, 18, 0, 30, tzinfo=UTC)
    await world.scheduler.tick()
    session = next(b[0] for row in (await world.new_messages())[-1]["buttons"] for b in row).split(":")[1]
    done = await world.press_plan(f"r:{session}:d")
    assert "Well done" in done[0]["text"]
    check = await world.rows(
        "SELECT kind, local_time, due_at FROM reminders WHERE kind = 'day_after_checkin'"
    )
    assert check[0][1] == "09:00" and datetime.fromisoformat(check[0][2]) == datetime(
        2026, 3, 21, 9, 0, tzinfo=UTC
    )

    world.clock.moment = datetime(2026, 3, 21, 9, 0, 10, tzinfo=UTC)
    await world.scheduler.tick()
    first = (await world.new_messages())[-1]
    checkin_id = first["buttons"][0][0][0].split(":")[1]
    await world.press_plan(f"c:{checkin_id}:n7")
    replies = await world.press_plan(f"c:{checkin_id}:w8")
    assert any("higher than when you started" in m["text"] for m in replies)  # one worse: not yet
    assert "Good morning" in first["text"]  # the check-in opens with why it asks

    await world.press_plan(f"r:{await fire_session(world)}:d")
    replies = await answer_checkin(world, 7, 8)
    assert any("Let's ease off" in str(m.get("title")) for m in replies), replies
    assert await world.rows("SELECT state, ball_withdrawn, routine FROM plans") == [
        ("eased", 1, "gentle-while-waiting")
    ]


async def test_it_hurt_above_5_eases_the_plan_at_once(world: World):
    await world.check_and_set_reminders("UTC", "18:00")
    world.clock.moment = datetime(2026, 3, 20, 18, 0, 30, tzinfo=UTC)
    await world.scheduler.tick()
    session = (await world.new_messages())[-1]["buttons"][0][0][0].split(":")[1]
    which = await world.press_plan(f"r:{session}:h")
    assert "Which exercise was it?" in which[0]["text"]
    assert buttons(which[0])[1] == "Kneeling hip flexor stretch"
    where = await world.press_plan(f"h:{session}:e1")
    assert "Where did you feel it?" in where[0]["text"]
    await world.press_plan(f"h:{session}:a2")
    await world.press_plan(f"h:{session}:p7")
    replies = await world.press_plan(f"h:{session}:sn")
    assert any("Let's ease off" in str(m.get("title")) for m in replies)
    assert await world.rows(
        "SELECT outcome, hurt_exercise, hurt_area, hurt_pain, hurt_settled FROM sessions"
    ) == [("hurt", "half_kneeling_hip_flexor_stretch", "groin", 7, 0)]
    again = await world.press_plan(f"h:{session}:sy")  # the old button, tapped again
    assert [m["text"] for m in again] == ["Thanks, I have already noted that one."]
    assert await world.rows("SELECT hurt_settled FROM sessions") == [(0,)]


async def test_a_red_flag_at_the_weekly_check_in_escalates_and_pauses_reminders(world: World):
    await world.check_and_set_reminders("UTC", "18:00")
    world.clock.moment = datetime(2026, 3, 29, 18, 0, 30, tzinfo=UTC)  # the first weekly check-in (Sunday)
    await world.scheduler.tick()
    weekly = [m for m in await world.new_messages() if "weekly check-in" in m["text"]][-1]
    checkin_id = weekly["buttons"][0][0][0].split(":")[1]
    await world.press_plan(f"c:{checkin_id}:n3")
    screen = await world.press_plan(f"c:{checkin_id}:w4")
    assert "have any of these started" in screen[-1]["text"]
    assert buttons(screen[-1]) == ["Yes", "No", "Not sure"]
    picker = await world.press_plan(f"c:{checkin_id}:fu")  # not sure: the list, treated as safely as yes
    assert "treat it as a yes" in picker[-1]["text"]
    assert all(len(label) <= 30 for label in buttons(picker[-1]))
    await world.press_plan(f"c:{checkin_id}:t1")  # bladder or bowel change
    second = await world.press_plan(f"c:{checkin_id}:k")
    assert "And have any of these started" in second[-1]["text"]
    replies = await world.press_plan(f"c:{checkin_id}:fn")
    assert any("Get emergency help now" in str(m.get("title")) for m in replies)
    assert await world.rows("SELECT state FROM plans") == [("paused",)]
    world.clock.moment = datetime(2026, 3, 30, 18, 0, 30, tzinfo=UTC)
    assert await world.scheduler.tick() == []  # the plan holds every reminder while paused


async def test_reminders_can_be_paused_resumed_retimed_and_deleted(world: World):
    await world.check_and_set_reminders("UTC", "18:00")
    await world.plan.list_reminders("telegram", world.user)
    listed = await world.new_messages()
    assert len(listed) == 3 and "Routine reminder" in listed[0]["text"]
    assert buttons(listed[2]) == ["🌙 Quiet hours", "⏹ End my plan"]
    reminder_id = listed[0]["buttons"][0][0][0].split(":")[1]
    await world.press_plan(f"m:{reminder_id}:p")
    assert await world.rows("SELECT status, due_at FROM reminders WHERE id = ?", reminder_id) == [
        ("paused", None)
    ]
    await world.press_plan(f"m:{reminder_id}:r")
    assert (await world.rows("SELECT status FROM reminders WHERE id = ?", reminder_id)) == [("active",)]
    asked = await world.press_plan(f"m:{reminder_id}:t")
    assert any("At what time?" in m["text"] for m in asked)
    await world.send(Text("7:45"))
    row = await world.rows("SELECT local_time, due_at FROM reminders WHERE id = ?", reminder_id)
    assert row[0][0] == "07:45" and datetime.fromisoformat(row[0][1]) == datetime(
        2026, 3, 21, 7, 45, tzinfo=UTC
    )
    await world.press_plan(f"m:{reminder_id}:x")
    assert await world.rows("SELECT COUNT(*) FROM reminders WHERE id = ?", reminder_id) == [(0,)]


async def test_changing_the_time_zone_keeps_local_times(world: World):
    await world.check_and_set_reminders("UTC", "18:00")
    await world.send(ChangeTimezone())
    saved = await world.send(Text("New York"))
    assert any("Time zone set to New York" in m["text"] for m in saved)
    rows = await world.rows("SELECT local_time, timezone, due_at FROM reminders WHERE kind = 'session'")
    assert rows[0][:2] == ("18:00", "America/New_York")
    # 2026-03-20 in New York is EDT (UTC-4): 18:00 local = 22:00 UTC.
    assert datetime.fromisoformat(rows[0][2]) == datetime(2026, 3, 20, 22, 0, tzinfo=UTC)


async def test_stale_and_forged_plan_buttons_change_nothing(world: World):
    await world.check_and_set_reminders("UTC", "18:00")
    world.clock.moment = datetime(2026, 3, 20, 18, 0, 30, tzinfo=UTC)
    await world.scheduler.tick()
    session = (await world.new_messages())[-1]["buttons"][0][0][0].split(":")[1]
    await world.press_plan(f"r:{session}:d")
    again = await world.press_plan(f"r:{session}:s")  # a second tap on the old reminder
    assert "already noted" in again[0]["text"]
    assert await world.rows("SELECT outcome FROM sessions") == [("done",)]
    for forged in ("r:999999:d", "c:1:n99", "h:abc:p1", "m:0:x", "zz"):
        handled = await world.plan.press("telegram", world.user, forged, None)
        assert handled.rejected or forged.startswith("m:")
    assert await world.rows("SELECT outcome FROM sessions") == [("done",)]


async def test_a_red_flag_typed_after_setting_reminders_pauses_them(world: World):
    await world.check_and_set_reminders("UTC", "18:00")
    assert (await world.rows("SELECT COUNT(*) FROM reminders WHERE status = 'active'"))[0][0] == 2
    shown = await world.send(Text("since this morning it's numb when I wipe"))
    assert any("Get emergency help now" in str(m.get("title")) for m in shown)
    assert await world.rows("SELECT state FROM plans") == [("paused",)]
    world.clock.moment = datetime(2026, 3, 20, 18, 0, 30, tzinfo=UTC)
    assert await world.scheduler.tick() == []  # held by the plan, whatever the reminder's own status


async def test_a_new_check_with_a_contraindication_removes_ball_work_from_the_plan(world: World):
    await world.check_and_set_reminders("UTC", "18:00")
    await world.database.write(
        lambda tx: tx.raw.execute("UPDATE plans SET routine = 'ball-release', assessed_ball = TRUE")
    )
    assert await world.rows("SELECT routine FROM plans") == [("ball-release",)]
    from bot.core.events import NewCheck

    await world.send(NewCheck())
    for answer in ("yes", "groin", "nowhere", "o0", "3 weeks", "3", "no", "no", "yes"):
        if answer == "o0":
            await world.send(Press(f"{await world.step()}:o0"))
        else:
            await world.send(Text(answer))
    await world.send(Press(f"{await world.step()}:t0"))  # pregnant
    await world.send(Press(f"{await world.step()}:ok"))
    for answer in ("30", "o0", "o0", "no", "skip"):
        if answer in ("o0", "skip"):
            await world.send(Press(f"{await world.step()}:{answer}"))
        else:
            await world.send(Text(answer))
    plan = await world.rows("SELECT assessed_ball, routine, forbidden_tags FROM plans")
    assert plan[0][0] == 0 and plan[0][1] == "no-abdominal-pressure"
    assert "abdominal_pressure" in json.loads(plan[0][2])
    assert (await world.rows("SELECT COUNT(*) FROM reminders WHERE status = 'active'"))[0][0] == 2


async def test_typing_no_at_the_days_question_gets_a_hint_not_an_empty_reminder(world: World):
    await world.send(Start())
    await world._answer_through_service(TYPICAL)
    await world.send(Press(f"{await world.step()}:rem"))
    await world.send(Text("London"))
    hinted = await world.send(Text("no"))
    assert any("Tap the days you want" in m["text"] for m in hinted)
    state = await world.rows("SELECT flow, state FROM conversations")
    assert state == [("reminder_setup", "days")]


async def test_an_ignored_reminder_does_not_break_later_check_ins(world: World):
    await world.check_and_set_reminders("UTC", "18:00")
    world.clock.moment = datetime(2026, 3, 20, 18, 0, 30, tzinfo=UTC)
    await world.scheduler.tick()  # ignored
    await world.new_messages()
    await world.press_plan(f"r:{await fire_session(world)}:d")
    replies = await answer_checkin(world, 3, 4)
    assert any("Check-in" in m["text"] or "check-in noted" in m["text"] for m in replies)
    assert (await world.rows("SELECT COUNT(*) FROM checkins WHERE answered_at IS NOT NULL"))[0][0] == 1


async def test_changing_the_time_zone_mid_check_asks_the_check_question_again(world: World):
    await world.send(Start())
    await world.send(Text("yes"))
    await world.send(ChangeTimezone())
    shown = await world.send(Text("Tokyo"))
    assert any("Time zone set to Tokyo" in m["text"] for m in shown)
    assert any("Where do you feel the pain?" in m["text"] for m in shown)
    assert await world.rows("SELECT flow, state FROM conversations") == [("symptom_check", "pain_location")]
