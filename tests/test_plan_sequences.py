"""The plan over weeks: sequences of sessions, hurt reports and check-ins, through the real
services on a real SQLite file with a moved clock.

Each test is a short story told the way a person lives it, and checks what they would see:
the messages, /routine, and the plan's recorded history.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.core.events import NewCheck, Press, ShowRoutine, Start, Text
from bot.storage import open_storage
from tests.plan_support import World, answer_checkin, buttons, fire_session, move_to_next
from tests.support import FakeClock, reminders_core

BALL = "Face-down ball release"


@pytest.fixture(scope="module")
def core() -> Any:
    return reminders_core()


@pytest.fixture()
async def world(core: Any, storage_target: str):
    """On every backend: the plan and scheduler flows are the same on SQLite and PostgreSQL."""
    clock = FakeClock(datetime(2026, 3, 20, 9, 0, tzinfo=UTC))  # a Friday
    database = await open_storage(storage_target)
    try:
        yield World(core, database, clock)
    finally:
        await database.close()


async def events(world: World) -> list[str]:
    return [row[0] for row in await world.rows("SELECT event FROM plan_events ORDER BY id")]


async def plan_row(world: World) -> tuple[Any, ...]:
    return (await world.rows("SELECT state, routine, level, ball_withdrawn, reference_pain FROM plans"))[0]


async def routine_now(world: World) -> dict[str, Any]:
    """What /routine shows now (one message)."""
    shown = await world.send(ShowRoutine())
    assert len(shown) == 1, shown
    return shown[0]


def exercise_lines(message: dict[str, Any]) -> list[str]:
    return [line for line in message["text"].splitlines() if line[:2].rstrip(".").isdigit()]


async def hurt(world: World, pain: int, settled: bool) -> list[dict[str, Any]]:
    """Fire the next session and report that it hurt: the first exercise, in the groin."""
    session = await fire_session(world)
    which = await world.press_plan(f"r:{session}:h")
    assert "Which exercise was it?" in which[-1]["text"]
    await world.press_plan(f"h:{session}:e0")
    await world.press_plan(f"h:{session}:a2")
    await world.press_plan(f"h:{session}:p{pain}")
    return await world.press_plan(f"h:{session}:{'sy' if settled else 'sn'}")


async def done_then_checkin(world: World, pain_now: int) -> list[dict[str, Any]]:
    await world.press_plan(f"r:{await fire_session(world)}:d")
    return await answer_checkin(world, pain_now, min(pain_now + 1, 10))


def titles(messages: list[dict[str, Any]]) -> list[str]:
    return [str(m.get("title")) for m in messages if m.get("title")]


async def test_hurt_then_ease_then_improving_check_ins_lead_to_the_next_step(world: World):
    """After "It hurt" at 7/10 the plan eases once; check-ins that improve on the eased plan
    bring encouragement and the next step, never a second "ease off"."""
    await world.check_and_set_reminders("UTC", "18:00")  # desk-sitter, pain 4
    eased = await hurt(world, 7, settled=False)
    assert titles(eased).count("⚠️ Let's ease off") == 1
    assert await plan_row(world) == ("eased", "gentle-while-waiting", 0, 1, 4)
    routine = await routine_now(world)
    assert "Gentle routine while you wait" in routine["title"] and BALL not in routine["text"]
    assert len(exercise_lines(routine)) >= 1
    assert "gentle routine, with no ball work" in routine["text"]

    # The morning after: not settled, and pain 3 (better than the 4 the plan is judged on now).
    await move_to_next(world, "day_after_checkin")
    await world.scheduler.tick()
    checkin = [m for m in await world.new_messages() if "Good morning" in m["text"]][-1]
    checkin_id = checkin["buttons"][0][0][0].split(":")[1]
    await world.press_plan(f"c:{checkin_id}:n2")
    settled = await world.press_plan(f"c:{checkin_id}:w3")
    assert "settled since?" in settled[-1]["text"]
    replies = await world.press_plan(f"c:{checkin_id}:sy")
    assert "⚠️ Let's ease off" not in titles(replies)  # the ease fired once, for its evidence
    offer = replies[-1]
    assert "clearly better" in offer["text"] and buttons(offer) == ["⏫ Yes, next step", "Stay as I am"]
    taken = await world.press_plan(offer["buttons"][0][0][0])
    assert any("next step" in m["text"] for m in taken)
    assert any("Glute bridge" in m["text"] for m in taken)  # the gentle routine's next step
    assert await plan_row(world) == ("eased", "gentle-while-waiting", 1, 1, 2)
    again = await world.press_plan(offer["buttons"][0][0][0])  # the same offer, tapped twice
    assert [m["text"] for m in again] == ["Thanks, I have already noted that one."]

    # Steady at 2: a word of encouragement, no new offer and no ease.
    steady = await done_then_checkin(world, 2)
    assert "⚠️ Let's ease off" not in titles(steady)
    assert any("about the same as when I last adjusted your plan" in m["text"] for m in steady)
    assert await events(world) == ["assessed_routine", "eased", "improved", "progressed"]


async def test_worse_twice_then_ease_then_worse_again_pauses_for_a_professional(world: World):
    await world.check_and_set_reminders("UTC", "18:00")  # pain 4
    once = await done_then_checkin(world, 7)
    assert "higher than when you started" in once[-1]["text"]
    twice = await done_then_checkin(world, 7)
    assert "⚠️ Let's ease off" in titles(twice)
    reasons = twice[-1]["text"]
    assert "worse on two check-ins in a row" in reasons
    assert "clearly better" not in reasons  # only the reasons that fired are shown
    assert await plan_row(world) == ("eased", "gentle-while-waiting", 0, 1, 7)

    same = await done_then_checkin(world, 7)  # no new evidence: no second ease, no referral
    assert not titles(same)
    worse = await done_then_checkin(world, 9)
    assert titles(worse) == ["⏸ Time to get checked"]
    assert "worse again on the gentler routine" in worse[-1]["text"]
    assert buttons(worse[-1]) == ["▶ I've been checked"]
    assert (await plan_row(world))[0] == "paused"
    assert await events(world) == ["assessed_routine", "eased", "referred"]

    # While paused for review: /routine gives the advice and no exercise, reminders are held.
    advice = await routine_now(world)
    assert advice["title"] == "⏸ Your exercises are on hold" and not exercise_lines(advice)
    world.clock.advance(days=2)
    assert await world.scheduler.tick() == []


async def test_a_red_flag_pause_asks_before_restarting_and_records_the_answer(world: World):
    await world.check_and_set_reminders("UTC", "18:00")
    shown = await world.send(Text("since this morning it's numb when I wipe"))
    assert "🚨 Get emergency help now" in titles(shown)
    advice = await routine_now(world)
    assert not exercise_lines(advice) and "Call your emergency number" in advice["text"]

    # /reminders says the plan is on hold; its button asks first.
    await world.plan.list_reminders("telegram", world.user)
    listed = await world.new_messages()
    assert "on hold since 20 Mar 2026" in listed[0]["text"]
    asked = await world.press_plan(listed[0]["buttons"][0][0][0])
    assert "has a doctor or physiotherapist checked this pain" in asked[-1]["text"]
    not_yet = await world.send(Text("not yet"))
    assert any("keep your exercises on hold" in m["text"] for m in not_yet)
    assert (await plan_row(world))[0] == "paused"

    step = await world.step()
    await world.send(Press(f"{step}:review"))
    restarted = await world.send(Text("yes"))
    assert any("restarted your plan gently" in m["text"] for m in restarted)
    assert await plan_row(world) == ("eased", "gentle-while-waiting", 0, 1, 4)
    assert await events(world) == [
        "assessed_routine",
        "assessed_urgent",
        "not_yet_checked",
        "resumed_after_check",
    ]
    answers = await world.rows("SELECT detail FROM plan_events WHERE event LIKE '%check%' ORDER BY id")
    assert [row[0] for row in answers] == [
        '{"checked_by_professional": false}',
        '{"checked_by_professional": true}',
    ]
    # The reminders held during the pause go out again, from their next time on.
    world.clock.moment = datetime(2026, 3, 20, 18, 0, 30, tzinfo=UTC)
    assert len(await world.scheduler.tick()) == 1
    card = (await world.new_messages())[-1]
    assert "Gentle routine while you wait" in card["title"] and BALL not in card["text"]


async def test_a_new_self_care_result_never_brings_back_what_the_plan_withdrew(world: World):
    """An eased plan stays eased through a new check with nothing flagged; ball work does
    not come back, and the result says why."""
    await world.check_and_set_reminders("UTC", "18:00")
    await hurt(world, 8, settled=False)
    assert (await plan_row(world))[0] == "eased"
    await world.send(NewCheck())
    for answer in (
        "yes",
        "groin",
        "nowhere",
        "o0",
        "3 weeks",
        "3",
        "no",
        "no",
        "no",
        "30",
        "o0",
        "o0",
        "no",
        "skip",
    ):
        if answer in ("o0", "skip"):
            result = await world.send(Press(f"{await world.step()}:{answer}"))
        else:
            result = await world.send(Text(answer))
    assert "This looks suitable for self-care" in titles(result)
    assert any("your plan stays gentle, with no ball work" in m["text"] for m in result)
    assert all(BALL not in m["text"] for m in result)
    state, routine, _level, withdrawn, _reference = await plan_row(world)
    assert (state, routine, withdrawn) == ("eased", "gentle-while-waiting", 1)


async def test_no_improvement_after_six_weeks_is_said_once_then_again_six_weeks_later(world: World):
    await world.check_and_set_reminders("UTC", "18:00")  # pain 4
    first = await done_then_checkin(world, 4)
    assert not titles(first)
    world.clock.advance(weeks=6)
    await world.scheduler.tick()  # six weeks on: what fell due meanwhile was missed
    await world.new_messages()
    referral = await done_then_checkin(world, 4)
    assert titles(referral) == ["Time to see a professional"]
    repeat = await done_then_checkin(world, 4)
    assert not titles(repeat)  # said once for this stretch of evidence
    world.clock.advance(weeks=6)
    await world.scheduler.tick()
    await world.new_messages()
    later = await done_then_checkin(world, 4)
    assert titles(later) == ["Time to see a professional"]
    assert (await events(world)).count("no_improvement") == 2


async def test_declining_the_next_step_is_not_asked_again_for_the_same_improvement(world: World):
    await world.check_and_set_reminders("UTC", "18:00")  # pain 4
    better = await done_then_checkin(world, 2)
    offer = better[-1]
    assert buttons(offer) == ["⏫ Yes, next step", "Stay as I am"]
    stayed = await world.press_plan(offer["buttons"][1][0][0])
    assert "routine stays as it is" in stayed[-1]["text"]
    same = await done_then_checkin(world, 2)
    assert all("⏫ Yes, next step" not in buttons(m) for m in same if m["buttons"])
    assert (await plan_row(world))[2] == 0


async def test_the_next_step_and_an_easier_one_on_request(world: World):
    await world.check_and_set_reminders("UTC", "18:00")
    overview = await routine_now(world)
    assert buttons(overview) == ["▶ Start a session now", "📖 How to do each one", "⏫ Next step"]
    up = next(b[0] for row in overview["buttons"] for b in row if ":up" in b[0])
    moved = await world.send(Press(up))
    assert any("here is the next step" in m["text"] for m in moved)
    assert "Modified Thomas stretch" in moved[-1]["text"]
    repeated = await world.send(Press(up))  # the old button again: nothing changes
    assert "already noted" in repeated[0]["text"] and (await plan_row(world))[2] == 1
    now = await routine_now(world)
    assert buttons(now) == ["▶ Start a session now", "📖 How to do each one", "⏫ Next step", "⏬ Easier"]
    down = next(b[0] for row in now["buttons"] for b in row if ":dn" in b[0])
    await world.send(Press(down))
    assert (await plan_row(world))[2] == 0
    assert await events(world) == ["assessed_routine", "progressed", "regressed"]


async def test_ending_the_plan_deletes_reminders_and_a_new_check_starts_afresh(world: World):
    await world.check_and_set_reminders("UTC", "18:00")
    await world.plan.list_reminders("telegram", world.user)
    footer = (await world.new_messages())[-1]
    end = next(b[0] for row in footer["buttons"] for b in row if b[1] == "⏹ End my plan")
    ended = await world.press_plan(end)
    assert "Your plan has ended" in ended[-1]["text"]
    assert await world.rows("SELECT COUNT(*) FROM reminders") == [(0,)]
    assert (await plan_row(world))[0] == "ended"
    await world.send(Start())
    assert (await world.rows("SELECT state FROM plans")) == [("ended",)]


async def test_quiet_hours_and_days_can_be_changed_in_reminders(world: World):
    await world.check_and_set_reminders("UTC", "18:00")
    await world.plan.list_reminders("telegram", world.user)
    listed = await world.new_messages()
    session = listed[0]
    days = next(b[0] for row in session["buttons"] for b in row if b[1] == "📅 Change days")
    asked = await world.press_plan(days)
    assert any("On which days" in m["text"] for m in asked)
    step = await world.step()
    for index in (1, 2, 3, 5, 6):  # untick all but Monday and Friday
        await world.send(Press(f"{step}:t{index}"))
    changed = await world.send(Press(f"{step}:ok"))
    assert any("now comes on Mon and Fri" in m["text"] for m in changed)
    assert await world.rows("SELECT days FROM reminders WHERE kind = 'session'") == [('["mon", "fri"]',)]

    quiet = next(b[0] for row in listed[-1]["buttons"] for b in row if b[1] == "🌙 Quiet hours")
    await world.press_plan(quiet)
    saved = await world.send(Text("23:00 to 08:30"))
    assert any("quiet from 23:00 to 08:30" in m["text"] for m in saved)
    await world.plan.list_reminders("telegram", world.user)
    session = (await world.new_messages())[0]
    retime = next(b[0] for row in session["buttons"] for b in row if b[1] == "🕑 Change time")
    await world.press_plan(retime)
    refused = await world.send(Text("8am"))  # inside the new quiet hours
    assert any("outside your quiet hours" in m["text"] for m in refused)
    accepted = await world.send(Text("7pm"))
    assert any("now comes at 19:00" in m["text"] for m in accepted)


async def test_a_warning_sign_at_a_weekly_check_in_that_needs_a_gp_keeps_gentle_exercises(world: World):
    """A ROUTINE-level sign (a clicking hip) gives the same result a first check would: book
    an appointment, gentle routine meanwhile, no ball work; not a pause."""
    await world.check_and_set_reminders("UTC", "18:00")
    world.clock.moment = datetime(2026, 3, 29, 18, 0, 30, tzinfo=UTC)
    await world.scheduler.tick()
    weekly = [m for m in await world.new_messages() if "weekly check-in" in m["text"]][-1]
    checkin = weekly["buttons"][0][0][0].split(":")[1]
    await world.press_plan(f"c:{checkin}:n4")
    await world.press_plan(f"c:{checkin}:w4")
    await world.press_plan(f"c:{checkin}:fn")
    picker = await world.press_plan(f"c:{checkin}:fy")
    index = buttons(picker[-1]).index("Hip clicks, locks or gives way")
    await world.press_plan(f"c:{checkin}:t{index}")
    replies = await world.press_plan(f"c:{checkin}:k")
    assert "Please book an appointment soon" in titles(replies)
    assert all(not m["buttons"] for m in replies if m.get("title"))  # the result's own buttons are not reused
    assert await plan_row(world) == ("active", "gentle-while-waiting", 0, 0, 4)
    routine = await routine_now(world)
    assert BALL not in routine["text"] and len(exercise_lines(routine)) >= 1
    world.clock.advance(days=1)
    assert len(await world.scheduler.tick()) <= 1  # still reminded, gently
