"""Typing instead of tapping, as people do: every question takes a typed answer, what was
understood is said back, "not sure" is handled as safely as yes, and a warning sign typed
uncertainly is asked about at once rather than guessed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.core.app import build_core
from bot.core.events import Press, Start, Text
from bot.core.replies import ReplyKind
from bot.core.service import ConversationService
from bot.storage import open_storage
from tests.support import ROOT, Walker, area_label, core

M = core().content.messages
NOTED_PREFIX = M.text("bot.noted", items="\0").split("\0")[0]  # "I noted: "


def to(walker: Walker, question_id: str) -> Walker:
    """Answer by buttons until `question_id` is asked (a low-risk path, nothing flagged)."""
    taps: dict[str, Any] = {
        "consent": "y",
        "pain_location": lambda: walker.tap_options([area_label("groin")]),
        "radiates_to": "none",
        "sitting": "o1",
        "duration": "o1",
        "pain_now": "v3",
        "emergency_screen": "n",
        "serious_screen": "n",
        "precautions_screen": "n",
        "age": "o2",
        "sex": "o0",
        "activity": "o0",
        "previously_assessed": "n",
    }
    if not walker.replies:
        walker.send(Start())
    for _ in range(len(taps) + 1):
        current = walker.snapshot.state
        if current == question_id:
            return walker
        action = taps[current]
        action() if callable(action) else walker.press(action)
    raise AssertionError(f"never reached {question_id}")


def texts(walker: Walker) -> list[str]:
    return [reply.text for reply in walker.replies]


# --------------------------------------------------------------------------- "Not sure"


def test_not_sure_on_a_warning_sign_screen_goes_through_the_list_with_a_word_on_why() -> None:
    walker = to(Walker(), "emergency_screen")
    assert M.text("common.not_sure") in [b.label for b in walker.question.all_buttons]
    walker.press("u")
    assert walker.snapshot.state == "emergency_detail"
    assert texts(walker)[0] == M.text("bot.unsure.as_yes")
    assert walker.snapshot.answers["given"]["emergency_signs"] == "unsure"


def test_typed_not_sure_works_like_the_button() -> None:
    walker = to(Walker(), "serious_screen")
    walker.send(Text("not sure tbh"))
    assert walker.snapshot.state == "serious_detail"


def test_not_sure_whether_anyone_checked_it_counts_as_not_yet() -> None:
    walker = to(Walker(), "age")
    walker.send(Text("58"))
    while walker.snapshot.state != "previously_assessed":
        walker.press("o0")
    walker.press("u")
    assert walker.snapshot.answers["previously_assessed"] is False
    assert texts(walker)[0] == M.text("bot.unsure.as_no")


def test_ok_is_not_a_yes_where_yes_could_lower_the_urgency() -> None:
    walker = to(Walker(), "age")
    walker.send(Text("58"))
    while walker.snapshot.state != "previously_assessed":
        walker.press("o0")
    walker.send(Text("ok"))
    assert walker.snapshot.state == "previously_assessed"
    assert walker.replies[0].kind is ReplyKind.HINT


# --------------------------------------------------------------------------- asking instead of guessing


def test_an_uncertain_warning_sign_is_asked_about_at_once_and_not_sure_counts_as_yes() -> None:
    walker = to(Walker(), "duration")
    walker.send(Text("maybe a bit numb down there when I wipe? not sure"))
    question = walker.question
    assert M.text("flag.saddle_numbness") in question.text
    assert [b.label for b in question.all_buttons] == [
        M.text("common.yes"),
        M.text("common.no"),
        M.text("common.not_sure"),
    ]
    assert walker.snapshot.state == "duration"  # the check waits underneath
    outcome = walker.press("cu")
    assert outcome.assessment is not None and outcome.assessment.urgency == "EMERGENCY"
    assert texts(walker)[0] == M.text("bot.unsure.confirm")


def test_not_sure_that_names_a_warning_sign_asks_about_the_sign_first() -> None:
    walker = to(Walker(), "emergency_screen")
    walker.send(Text("maybe a bit numb down there when I wipe? not sure"))
    assert M.text("flag.saddle_numbness") in walker.question.text
    outcome = walker.press("cy")
    assert walker.snapshot.answers["saddle_numbness"] is True
    # the sign ends the check with its advice: there is no list left to answer "no" to
    assert outcome.assessment is not None and outcome.assessment.urgency == "EMERGENCY"
    assert walker.snapshot.state == "result"


def test_no_to_the_explicit_question_goes_back_to_where_the_check_was() -> None:
    walker = to(Walker(), "duration")
    walker.send(Text("is it normal that wiping feels a bit weird?"))
    walker.press("cn")
    assert walker.snapshot.state == "duration"
    assert walker.snapshot.answers["saddle_numbness"] is False
    assert M.text("question.duration.text") in walker.question.text
    # the earlier question's buttons are stale now, and pressing one changes nothing
    assert walker.send(Press("1:y")).replies[0].text == M.text("bot.stale_button")


def test_the_explicit_question_is_kept_across_a_restart(tmp_path: Path) -> None:
    import asyncio

    database = str(tmp_path / "bot.db")

    async def service() -> tuple[ConversationService, Any]:
        storage = await open_storage(database)
        fresh = build_core(ROOT / "content", ROOT / "flows")
        return ConversationService(fresh.engine, storage), storage

    async def run() -> list[str]:
        chat, storage = await service()
        await chat.handle("telegram", "u1", Start(), outbox_context={})
        await chat.handle("telegram", "u1", Press("1:y"), outbox_context={})
        handled = await chat.handle(
            "telegram", "u1", Text("I think I might have wet myself without noticing?"), outbox_context={}
        )
        asked = [r for r in handled.replies if r.kind is ReplyKind.QUESTION][-1]
        await storage.close()
        chat, storage = await service()  # a new process on the same database
        unsure = next(b.data for b in asked.all_buttons if b.data.endswith(":cu"))
        handled = await chat.handle("telegram", "u1", Press(unsure), outbox_context={})
        await storage.close()
        return [reply.kind.value for reply in handled.replies]

    kinds = asyncio.run(run())
    assert ReplyKind.ESCALATION.value in kinds


# --------------------------------------------------------------------------- said back, never flipped


def test_a_typed_answer_is_said_back_with_a_way_to_correct_it() -> None:
    walker = to(Walker(), "duration")
    walker.send(Text("about 3 weeks i think"))
    assert walker.snapshot.answers["duration_weeks"] == 3
    noted = M.text("bot.noted_back", items=M.plural("noted.weeks", 3))
    assert texts(walker)[0].startswith(noted)
    assert M.text("common.back") in [b.label for b in walker.question.all_buttons]


@pytest.mark.parametrize(
    ("question_id", "typed"),
    [
        ("emergency_screen", "no"),
        ("emergency_screen", "No."),
        ("age", "38"),
        ("pain_now", "4/10"),
        ("sex", "woman"),
    ],
)
def test_an_answer_typed_as_itself_is_not_said_back(question_id: str, typed: str) -> None:
    walker = to(Walker(), question_id)
    walker.send(Text(typed))
    assert walker.snapshot.state != question_id
    assert not texts(walker)[0].startswith(NOTED_PREFIX)


@pytest.mark.parametrize(("typed", "kept"), [("no thanks", None), ("nope", None), ("no fever", "no fever")])
def test_no_thanks_to_anything_else_is_a_skip_and_a_denial_is_kept(typed: str, kept: str | None) -> None:
    walker = to(Walker(), "anything_else")
    walker.send(Text(typed))
    assert walker.snapshot.state != "anything_else"
    assert walker.snapshot.answers.get("text") == kept


def test_places_typed_are_said_back_as_a_sentence_would_write_them() -> None:
    walker = to(Walker(), "pain_location")
    walker.send(Text("my lower back and the groin"))
    noted = M.text("bot.noted_back", items=f"{area_label('lower_back')} and groin")
    assert texts(walker)[0].startswith(noted)  # "Lower back and groin", not "... and Groin"


def test_a_long_paste_never_changes_an_earlier_button_answer() -> None:
    walker = to(Walker(), "sitting")
    walker.press("o3")  # sitting makes no difference
    paste = ("Honestly it is so much worse when I am sitting at my desk, sitting kills it. " * 35)[:2500]
    walker.send(Text(paste))
    assert walker.snapshot.answers["worse_when_sitting"] is False
    assert walker.snapshot.state == "duration"


# --------------------------------------------------------------------------- typed answers to every question


@pytest.mark.parametrize(
    ("question_id", "typed", "key", "value"),
    [
        ("activity", "desk", "high_impact_training", False),
        ("activity", "I work at a desk all day", "high_impact_training", False),
        ("activity", "I go running 3 times a week", "high_impact_training", True),
        ("sex", "prefer not to say", "sex", "X"),
        ("sex", "I'm a woman", "sex", "F"),
        ("sitting", "only when I get up out of the chair", "worse_rising_from_chair", True),
        ("age", "61 and never had back pain before", "age", 61),
    ],
)
def test_typed_choices(question_id: str, typed: str, key: str, value: Any) -> None:
    walker = to(Walker(), question_id)
    walker.send(Text(typed))
    assert walker.snapshot.state != question_id, texts(walker)
    assert walker.snapshot.answers[key] == value


def test_ok_starts_the_check() -> None:
    walker = Walker()
    walker.send(Start())
    walker.send(Text("ok"))
    assert walker.snapshot.state == "pain_location"


@pytest.mark.parametrize("question_id", ["duration", "pain_now", "age"])
def test_not_sure_gets_a_friendly_hint_with_examples(question_id: str) -> None:
    walker = to(Walker(), question_id)
    walker.send(Text("not sure"))
    assert walker.snapshot.state == question_id
    hint = walker.replies[0]
    assert hint.kind is ReplyKind.HINT
    assert hint.text.startswith(M.text("bot.unsure.hint"))
    assert M.text(f"question.{question_id}.hint") in hint.text
