"""What /summary puts on the page, from a person's stored history, read back from the PDF.

The answers come from the real engine (buttons tapped, words typed), the plan changes from
the real plan rules; the PDF is read back with pypdf, as a reader would see it: the answers
as the buttons said them, every warning sign and precaution with its answer, the routine and
each change of the plan with its date and reason, the check-ins against the start, one page.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.content import Content
from bot.core.events import NewCheck, Press, Start, Text
from bot.core.messages import FORMATS_KEY, Messages
from bot.core.plan.model import Plan, PlanEvent
from bot.core.records import Checkin, Guide, Session
from bot.reports.chart import PAPER, PainPoint, render_progress_chart
from bot.reports.document import SummaryFacts, build_summary_document
from bot.reports.pdf import render_summary_pdf
from bot.reports.service import ReportMaker
from bot.storage.sqlite import SqliteStorage as Database
from tests.plan_support import World
from tests.support import FakeClock, Walker, core, reminders_core
from tests.test_summary_pdf import bold_text, page_text, read

NOW = datetime(2026, 12, 4, 17, 30, tzinfo=UTC)
CHECKED = NOW - timedelta(days=30)
ZONE = "Europe/Berlin"


@pytest.fixture(scope="module")
def content() -> Content:
    return core().content


def tapped_check(*, fever: bool = False) -> Walker:
    """The check as a person taps it: the age range "30 to 49", the sitting and duration buttons,
    and a few words of their own at the end."""
    walker = Walker()
    walker.send(Start())
    walker.press("Yes, let's start")
    walker.tap_options(["Lower back", "Groin"])
    walker.tap_options(["Front of the thigh"])
    walker.press("Worse sitting and getting up")
    walker.press("3 to 6 weeks")
    walker.press("6")
    walker.press("No")
    if fever:
        walker.press("Yes")
        walker.tap_options(["Fever or feeling unwell"])
    else:
        walker.press("No")
    walker.press("No")
    walker.press("30 to 49")
    walker.press("Woman")
    walker.press("Mostly sitting")
    walker.press("No")
    walker.send(Text("It started after a long drive to my sister's."))
    assert walker.snapshot.result is not None
    return walker


def first_plan(walker: Walker) -> tuple[Plan, PlanEvent]:
    """The plan the result started, dated a month before the page is made, and its event."""
    change = core().plan_rules.assessed(None, *_assessed(walker), CHECKED)
    assert change.plan is not None and change.event is not None
    return change.plan, change.event


def _assessed(walker: Walker) -> tuple[Any, str | None]:
    from bot.core.plan.lifecycle import Assessed
    from bot.core.policy import Urgency

    result = walker.snapshot.result
    assert result is not None
    assessed = Assessed(
        urgency=Urgency(result["urgency"]),
        reasons=tuple(result["reasons"]),
        forbidden_tags=frozenset(result["forbidden_tags"]),
        ball_allowed=bool(result["ball_release_allowed"]),
        pain_now=walker.snapshot.answers.get("pain_now"),
    )
    return assessed, result["routine"]


def checkins(count: int, start: datetime, pains: list[int] | None = None) -> list[Checkin]:
    moments = [start + timedelta(days=day) for day in range(count)]
    values = pains or [max(1, 7 - day // 3) for day in range(count)]
    return [
        Checkin(i, 1, "day_after", at, pain_now=pain, pain_worst=min(10, pain + 1), answered_at=at)
        for i, (at, pain) in enumerate(zip(moments, values, strict=True))
    ]


def facts(walker: Walker, **changes: Any) -> SummaryFacts:
    plan, event = first_plan(walker)
    fields: dict[str, Any] = {
        "generated_at": NOW,
        "zone": ZONE,
        "answers": walker.snapshot.answers,
        "result": walker.snapshot.result,
        "checked_at": CHECKED,
        "plan": plan,
        "events": [event],
        "sessions": [],
        "checkins": [],
        "baseline": walker.snapshot.answers.get("pain_now"),
        "chart": None,
    }
    fields.update(changes)
    return SummaryFacts(**fields)


def pdf_of(facts: SummaryFacts, content: Content) -> bytes:
    return render_summary_pdf(build_summary_document(facts, content))


def with_chart(summary: SummaryFacts, content: Content) -> SummaryFacts:
    points = [PainPoint(c.at, c.pain_now or 0, c.pain_worst) for c in summary.checkins]
    png = render_progress_chart(points, [], summary.baseline, ZONE, content.messages, style=PAPER)
    return replace(summary, chart=png)


# --- The answers, as given ----------------------------------------------------------------------------


def test_answers_read_as_the_buttons_said_and_every_warning_sign_is_listed(content: Content) -> None:
    pdf = pdf_of(facts(tapped_check()), content)
    assert len(read(pdf).pages) == 1
    text = page_text(pdf)
    for shown in (
        "Age 30 to 49",  # the button tapped, not the 40 stored for it
        "Sitting and getting up Worse sitting and getting up",
        "How long 3 to 6 weeks",
        "Where it hurts Lower back and groin",  # a list the language's way (CLDR), as a sentence writes it
        "Where it spreads Front of the thigh",
        "Sex Woman",
        "It started after a long drive to my sister's.",
    ):
        assert shown in text, shown
    messages = content.messages
    for group in ("emergency_signs", "serious_signs", "precautions"):
        for key in content.groups[group]:
            assert f"{messages.text(f'flag_short.{key}')} no" in text, key
    assert "Self-care: no warning signs reported" in bold_text(pdf)
    assert "You have none of the warning signs I asked about" in text
    assert "not a diagnosis" in text


def test_typed_answers_read_as_typed(content: Content) -> None:
    walker = Walker()
    walker.send(Start())
    walker.press("Yes, let's start")
    walker.send(Text("lower back"))
    walker.send(Text("nowhere"))
    walker.press("Sitting makes no difference")
    walker.send(Text("10 days"))
    walker.send(Text("4"))
    for _ in range(3):
        walker.press("No")
    walker.send(Text("42"))
    walker.send(Text("I'm a guy"))
    walker.press("Active, low impact")
    walker.press("No")
    walker.press("skip")
    text = page_text(pdf_of(facts(walker), content))
    assert "How long 10 days" in text and "Age 42" in text and "Where it spreads None of these" in text
    assert "Sex Man" in text  # a typed "guy" is stored as its value and said as the button
    assert "In their own words" not in text  # skipped: no row


def test_a_yes_is_bold_and_a_warning_sign_from_a_check_in_is_never_left_off(content: Content) -> None:
    walker = tapped_check(fever=True)
    later = Checkin(
        7, 1, "weekly", NOW - timedelta(days=2), 5, 6, None, ("leg_numbness",), NOW - timedelta(days=2)
    )
    pdf = pdf_of(facts(walker, checkins=[later]), content)
    bold = bold_text(pdf)
    assert "Fever or feeling unwell yes" in bold
    assert "Numbness in one leg yes*" in bold
    assert "* Reported at a check-in after the symptom check: Numbness in one leg (2 Dec)." in page_text(pdf)
    text = page_text(pdf)
    assert "Urgent: advised to see a doctor today" in text
    assert "Back or hip pain with a fever" in text  # why, as the person was told
    assert "Pressure on the belly" not in text  # no exercise at all, so nothing to say about ball work
    assert "new warning sign: Numbness in one leg" in text


# --- The routine, the plan and the check-ins ----------------------------------------------------------


def test_the_routine_each_plan_change_and_the_check_ins_against_the_start(content: Content) -> None:
    walker = tapped_check()
    plan, started = first_plan(walker)
    pains = [6, 7, 8, 8, 6, 5, 4, 3]
    history = checkins(len(pains), NOW - timedelta(days=18), pains)  # 16 Nov to 23 Nov
    eased = core().plan_rules.eased(plan, ("worse_two_in_a_row",), 8, history[3].at)  # on answering 19 Nov
    assert eased.plan is not None and eased.event is not None
    hurt = Session(
        3, 1, NOW - timedelta(days=16), plan.routine, "hurt", "glute_bridge", "groin", 7, False, False
    )
    done = Session(
        4, 1, NOW - timedelta(days=12), eased.plan.routine, "done", guide=Guide(("a",), 1, (), NOW)
    )
    summary = facts(
        walker, plan=eased.plan, events=[started, eased.event], checkins=history, sessions=[hurt, done]
    )
    pdf = pdf_of(with_chart(summary, content), content)
    assert len(read(pdf).pages) == 1 and len(read(pdf).pages[0].images) == 1
    text = page_text(pdf)
    assert "Plan now eased: the gentle routine, no ball work" in text
    assert "Routine Gentle routine while you wait, step 1 of 2" in text
    assert "4 Nov Symptom check (self-care): Desk-sitter routine" in text
    assert (
        "19 Nov Eased to the Gentle routine while you wait Your pain was clearly worse on two check-ins in a row"
        in text
    )
    assert "18 Nov Glute bridge Groin 7/10 no, not by the next morning" in text
    assert "Sessions done 2" in text and "Guided step by step 1" in text and "That hurt 1" in text
    for row in (
        "16 Nov 6/10 7/10 about as at the start",
        "19 Nov 8/10 9/10 worse than at the start; Eased to the Gentle routine while you wait",
        "23 Nov 3/10 4/10 better than at the start",
    ):
        assert row in text, row
    assert "Pain at the start: 6/10 (4 Nov)." in text and "Latest check-in: 3/10 (23 Nov)." in text
    assert "That is a meaningful improvement: at least 2 points or 30 % lower than at the start." in text


def test_a_long_history_stays_on_one_page_with_its_latest_rows(content: Content) -> None:
    walker = tapped_check()
    plan, started = first_plan(walker)
    history = checkins(150, NOW - timedelta(days=150))
    hurts = [
        Session(
            i, 1, NOW - timedelta(days=2 * i), plan.routine, "hurt", "glute_bridge", "lower_back", 4, True
        )
        for i in range(1, 40)
    ]
    events = [started] + [
        replace(
            started,
            at=NOW - timedelta(days=3 * i),
            event="progressed",
            detail={"level": 1},
            reasons=("asked",),
        )
        for i in range(30, 0, -1)
    ]
    summary = with_chart(facts(walker, checkins=history, sessions=hurts, events=events), content)
    pdf = pdf_of(summary, content)
    assert len(read(pdf).pages) == 1
    text = page_text(pdf)
    assert "earlier check-ins not shown." in text and "3 Dec 1/10" in text  # the latest is kept
    assert (
        "earlier changes not shown." in text and "earlier reports of pain during exercise not shown." in text
    )
    for key in content.groups["emergency_signs"]:
        assert content.messages.text(f"flag_short.{key}") in text


def test_no_check_ins_yet_says_so_and_draws_no_chart(content: Content) -> None:
    pdf = pdf_of(facts(tapped_check()), content)
    text = page_text(pdf)
    assert "Pain at the start: 6/10 (4 Nov). No pain check-ins yet." in text
    assert "No sessions recorded yet." in text
    assert not read(pdf).pages[0].images


def test_dates_are_written_the_readers_way(content: Content) -> None:
    # English words, German formats.
    german = replace(content, messages=Messages("de", {**content.messages.entries, FORMATS_KEY: "de"}))
    text = page_text(pdf_of(facts(tapped_check(), checkins=checkins(3, NOW - timedelta(days=40))), german))
    assert "4. Nov." in text and "4. Dez. 2026, 18:30" in text and "4 Nov" not in text


# --- From storage, as /summary reads it ---------------------------------------------------------------


async def test_a_new_check_under_way_does_not_change_what_the_summary_shows(tmp_path: Path) -> None:
    """The page shows the answers behind the latest result, even while (or after) a new check is
    started and left half-way, when the conversation itself holds other answers."""
    clock = FakeClock(NOW)
    async with Database(tmp_path / "bot.db") as database:
        world = World(reminders_core(), database, clock)
        await world.check_and_set_reminders("Berlin", "18:00")
        maker = ReportMaker(world.core.content, database, clock, world.core.plan_rules)
        before = await maker.summary("telegram", world.user)
        assert before is not None
        await world.send(NewCheck())
        await world.send(Press(f"{await world.step()}:y"))
        await world.send(Text("groin and buttock"))
        after = await maker.summary("telegram", world.user)
        assert after is not None
        for pdf in (before.pdf, after.pdf):
            text = page_text(pdf)
            assert "Where it hurts Front of the hip" in text and "Age 34" in text
        assert "Buttock" not in page_text(after.pdf)
        assert "You started at 4/10" in after.message
