"""The conversation as a user lives it, through the transport-free engine.

Every front drives this same engine, so these tests hold for the terminal,
Telegram and any later front.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import replace

import pytest

from bot.adapters.assess import assess
from bot.core.events import Back, Cancel, Help, NewCheck, Press, Select, ShowRoutine, Start, Text, Unsupported
from bot.core.replies import ReplyKind
from tests.support import (
    SHARED_MISSING,
    VIGNETTES,
    Walker,
    answer_check,
    area_label,
    core,
    flag_label,
    load_vignettes,
    select,
)

TYPICAL = {
    "pain_location": ["hip_front"],
    "radiates_to": [],
    "worse_when_sitting": True,
    "worse_rising_from_chair": True,
    "duration_weeks": 2,
    "pain_now": 3,
    "age": 34,
    "sex": "M",
}


def _tap_through_typical(walker: Walker):
    """A typical user with nothing flagged, using buttons only."""
    walker.send(Start())
    walker.press("y")
    walker.tap_options([area_label("hip_front")])
    walker.press("none")
    walker.press("o0")  # worse sitting and getting up
    walker.press("o1")  # 1-3 weeks
    walker.press("v3")
    walker.press("n")
    walker.press("n")
    walker.press("n")
    walker.press("o2")  # 30-49
    walker.press("o1")  # man
    walker.press("o0")  # mostly sitting
    walker.press("n")
    return walker.press("skip")


def test_a_typical_check_takes_at_most_15_taps_and_ends_with_a_routine():
    walker = Walker()
    outcome = _tap_through_typical(walker)
    assert walker.taps <= 15
    assert outcome.assessment is not None and outcome.assessment.urgency == "SELF_CARE"
    kinds = [reply.kind for reply in outcome.replies]
    assert kinds == [ReplyKind.RESULT, ReplyKind.ROUTINE]
    assert "not a diagnosis" in outcome.replies[0].text


def test_every_state_and_transition_of_the_flow_is_walked():
    """Breadth-first over every button of every question from every state reached."""
    flow = core().flow
    seen_states: set[str] = set()
    seen_edges: set[tuple[str, str]] = set()
    start = Walker()
    start.send(Start())
    queue = deque([(start.snapshot, start.replies)])
    visited_snapshots = 0
    while queue and visited_snapshots < 400:
        snapshot, replies = queue.popleft()
        visited_snapshots += 1
        state = snapshot.state
        assert state is not None
        if state in seen_states:
            continue
        seen_states.add(state)
        question = [r for r in replies if r.kind is ReplyKind.QUESTION][-1]
        for button in question.all_buttons:
            walker = Walker()
            walker.snapshot = snapshot
            token = button.data.split(":")[1]
            if token == "back":
                continue
            if token.startswith("t"):
                walker.send(Press(button.data))
                outcome = walker.send(Press(f"{walker.snapshot.step}:ok"))
                if token == "t0":  # also choose every option at once
                    everything = Walker()
                    everything.snapshot = snapshot
                    everything.send(Select(tuple(b.data for b in question.choices)))
                    seen_edges.add((state, everything.snapshot.state or "declined"))
            else:
                outcome = walker.send(Press(button.data))
            new_state = outcome.snapshot.state
            if new_state is None:  # declined
                seen_edges.add((state, "declined"))
                continue
            seen_edges.add((state, new_state))
            if new_state == flow.state_with("show_result"):
                seen_states.add(new_state)
                assert outcome.assessment is not None
                continue
            queue.append((outcome.snapshot, outcome.replies))
    assert seen_states | {"declined"} == set(flow.states)
    # An emergency that only a precaution completes: sudden severe pain, then blood thinners.
    walker = Walker()
    walker.send(Start())
    for token in ["y", None, "none", "o0", "o1", "v6", "y"]:
        walker.press(token) if token else walker.tap_options([area_label("groin")])
    walker.tap_options([flag_label("sudden_severe_onset")])
    walker.press("n")
    walker.press("y")
    assert walker.snapshot.state == "precautions_detail"
    walker.tap_options([flag_label("anticoagulants")])
    seen_edges.add(("precautions_detail", walker.snapshot.state))
    expected_edges = {(t.source, t.dest) for t in flow.definition.transitions if t.trigger == "answer"}
    assert expected_edges <= seen_edges


def test_going_back_returns_to_the_previous_question_and_keeps_answers():
    walker = Walker()
    walker.send(Start())
    walker.press("y")
    walker.tap_options([area_label("groin")])
    assert walker.snapshot.state == "radiates_to"
    walker.press("back")
    assert walker.snapshot.state == "pain_location"
    assert walker.snapshot.answers["pain_location"] == ["groin"]
    walker.send(Back())
    assert walker.snapshot.state == "consent"
    outcome = walker.send(Back())
    assert walker.snapshot.state == "consent"
    assert "no earlier question" in outcome.replies[0].text


def test_restart_and_cancel():
    walker = Walker()
    walker.send(Start())
    walker.press("y")
    walker.tap_options([area_label("groin")])
    walker.send(NewCheck())
    assert walker.snapshot.state == "consent" and walker.snapshot.answers == {}
    outcome = walker.send(Cancel())
    assert walker.snapshot.state is None and outcome.cancelled
    assert "stopped" in outcome.replies[0].text


def test_typed_answers_work_where_buttons_do():
    walker = Walker()
    walker.send(Start())
    walker.send(Text("yes"))
    walker.send(Text("lower back and groin"))
    assert walker.snapshot.answers["pain_location"] == ["lower_back", "groin"]
    walker.send(Text("nowhere"))
    assert walker.snapshot.answers["radiates_to"] == []
    walker.press("o3")
    walker.send(Text("about 3 weeks"))
    assert walker.snapshot.answers["duration_weeks"] == pytest.approx(3)
    walker.send(Text("6/10"))
    assert walker.snapshot.answers["pain_now"] == 6
    walker.send(Text("no"))
    assert walker.snapshot.state == "serious_screen"


def test_not_understood_text_gets_a_hint_and_the_same_question():
    walker = Walker()
    walker.send(Start())
    walker.press("y")
    walker.tap_options([area_label("groin")])
    walker.press("none")
    walker.press("o0")
    walker.press("o1")
    before = walker.snapshot
    outcome = walker.send(Text("purple elephant"))
    assert walker.snapshot == before
    assert outcome.replies[0].kind is ReplyKind.HINT
    assert outcome.replies[-1].kind is ReplyKind.QUESTION
    outcome = walker.send(Text("11"))
    assert walker.snapshot == before


@pytest.mark.parametrize(
    "event",
    [
        Unsupported("sticker"),
        Text("x" * 4000),
        Text("🙂🙃" * 100),
        Text("\x00\x07\u202eabc"),
        Press("not-a-button"),
        Press("99999:o1"),
        Press("3:zz"),
        Press(""),
        Help(),
    ],
    ids=[
        "sticker",
        "4000 chars",
        "emoji",
        "control chars",
        "malformed",
        "future",
        "forged token",
        "empty",
        "help",
    ],
)
def test_bad_input_never_changes_the_state(event):
    walker = Walker()
    walker.send(Start())
    walker.press("y")
    before = walker.snapshot
    walker.send(event)
    assert walker.snapshot == before


def test_a_stale_button_gets_a_note_and_the_current_question():
    walker = Walker()
    walker.send(Start())
    old_button = walker.question.all_buttons[0].data
    walker.press("y")
    before = walker.snapshot
    outcome = walker.send(Press(old_button))
    assert walker.snapshot == before
    assert "earlier question" in outcome.replies[0].text
    assert outcome.replies[-1].kind is ReplyKind.QUESTION


def test_multi_choice_toggles_edit_the_question_in_place():
    walker = Walker()
    walker.send(Start())
    walker.press("y")
    outcome = walker.press(area_label("groin"))
    reply = outcome.replies[0]
    assert reply.edit
    assert any(b.selected and "✓" in b.label for b in reply.all_buttons)
    outcome = walker.press("✓ " + area_label("groin"))
    assert not any(b.selected for b in outcome.replies[0].all_buttons)
    outcome = walker.press("ok")
    assert walker.snapshot.state == "pain_location"
    assert "at least one" in outcome.replies[0].text


def test_terminal_style_selection_of_several_options():
    walker = Walker()
    walker.send(Start())
    walker.press("y")
    select(walker, [area_label("lower_back"), area_label("groin")])
    assert walker.snapshot.answers["pain_location"] == ["lower_back", "groin"]


@pytest.mark.parametrize(
    ("text", "urgency"),
    [
        ("it's numb when I wipe", "EMERGENCY"),
        ("I can't pee", "EMERGENCY"),
        ("I have a fever", "URGENT"),
        ("there's a throbbing in my belly", "EMERGENCY"),
    ],
)
@pytest.mark.parametrize("state_index", [0, 1, 4, 9, 14])
def test_free_text_red_flags_interrupt_any_state(text, urgency, state_index):
    walker = Walker()
    walker.send(Start())
    taps = ["y", None, "none", "o0", "o1", "v3", "n", "n", "n", "o2", "o1", "o0", "n"]
    for token in taps[:state_index]:
        if token is None:
            walker.tap_options([area_label("groin")])
        else:
            walker.press(token)
    outcome = walker.send(Text(text))
    assert outcome.assessment is not None and outcome.assessment.urgency == urgency
    assert outcome.replies[0].kind is ReplyKind.ESCALATION
    assert all(reply.kind is not ReplyKind.ROUTINE for reply in outcome.replies)


def test_negated_red_flags_in_text_do_not_escalate():
    walker = Walker()
    walker.send(Start())
    walker.press("y")
    before = walker.snapshot.state
    outcome = walker.send(Text("no fever, not numb, no pins and needles or weakness"))
    assert outcome.assessment is None
    assert walker.snapshot.state == before


def test_red_flag_text_with_no_check_running_still_escalates():
    walker = Walker()
    outcome = walker.send(Text("I've lost control of my bladder"))
    assert outcome.assessment is not None and outcome.assessment.urgency == "EMERGENCY"
    assert outcome.new_check


def test_emergency_buttons_end_the_check_at_once():
    walker = Walker()
    walker.send(Start())
    for token in ["y", None, "none", "o0", "o1", "v3", "y"]:
        if token is None:
            walker.tap_options([area_label("lower_back")])
        else:
            walker.press(token)
    outcome = walker.tap_options([flag_label("saddle_numbness")])
    assert walker.snapshot.state == "result"
    assert outcome.assessment.urgency == "EMERGENCY"
    assert "emergency" in outcome.replies[0].text.lower()
    assert len(outcome.replies) == 1  # no routine


def test_routine_command_shows_the_routine_after_a_check():
    walker = Walker()
    assert "don't have a routine" in walker.send(ShowRoutine()).replies[0].text
    _tap_through_typical(walker)
    outcome = walker.send(ShowRoutine())
    assert outcome.replies[0].kind is ReplyKind.ROUTINE


def test_start_resumes_a_check_in_progress():
    walker = Walker()
    walker.send(Start())
    walker.press("y")
    state = walker.snapshot.state
    outcome = walker.send(Start())
    assert walker.snapshot.state == state
    assert "Welcome back" in outcome.replies[0].text


@pytest.fixture(scope="module")
def sample_cases():
    if not VIGNETTES.is_file():
        pytest.skip(SHARED_MISSING)
    return load_vignettes()


def test_the_conversation_and_assess_agree_on_every_sample(sample_cases):
    for case in sample_cases:
        walker = Walker()
        outcome = answer_check(walker, case["answers"])
        from_assess = assess(json.dumps(case["answers"]), core())
        stored = walker.snapshot.result
        assert stored is not None, case["id"]
        assert stored["urgency"] == from_assess["urgency"], case["id"]
        assert stored["ball_release_allowed"] == from_assess["ball_release_allowed"], case["id"]
        if stored["urgency"] != "EMERGENCY":  # an emergency ends the questions early
            assert stored["routine"] == from_assess["routine"], case["id"]
        assert outcome.assessment is not None


def test_the_conversation_and_assess_agree_on_own_cases():
    from tests.test_triage import BASE, OWN_CASES

    for name, changes, urgency, _ball in OWN_CASES:
        answers = {**BASE, **changes}
        walker = Walker()
        answer_check(walker, answers)
        stored = walker.snapshot.result
        assert stored is not None and stored["urgency"] == urgency, name
        assert stored["urgency"] == assess(json.dumps(answers), core())["urgency"], name


def test_snapshot_is_plain_data_that_round_trips():
    walker = Walker()
    _tap_through_typical(walker)
    snapshot = walker.snapshot
    assert replace(snapshot) == snapshot
    json.dumps(snapshot.answers)
    json.dumps(snapshot.result)


def test_typing_back_goes_back_like_the_button():
    walker = Walker()
    walker.send(Start())
    walker.press("y")
    walker.tap_options([area_label("groin")])
    walker.send(Text("back"))
    assert walker.snapshot.state == "pain_location"


@pytest.mark.parametrize(
    ("typed", "sex"), [("female", "F"), ("I'm a man", "M"), ("non-binary", "X"), ("Woman", "F")]
)
def test_sex_can_be_typed_in_words(typed, sex):
    walker = Walker()
    walker.send(Start())
    for token in ["y", None, "none", "o0", "o1", "v3", "n", "n", "n", "o2"]:
        walker.press(token) if token else walker.tap_options([area_label("groin")])
    assert walker.snapshot.state == "sex"
    walker.send(Text(typed))
    assert walker.snapshot.answers["sex"] == sex and walker.snapshot.state == "activity"


@pytest.mark.parametrize("typed", ["²", "③", "٣٣", "1²"])
def test_odd_digits_at_a_choice_question_get_a_hint_not_a_crash(typed):
    walker = Walker()
    walker.send(Start())
    walker.press("y")
    walker.tap_options([area_label("groin")])
    walker.press("none")
    before = walker.snapshot
    outcome = walker.send(Text(typed))
    assert walker.snapshot == before
    assert outcome.replies[0].kind is ReplyKind.HINT


def test_a_forged_reminder_button_after_an_emergency_is_refused():
    from bot.core.app import build_core
    from tests.support import core as shipped

    engine = build_core(
        shipped().content.root, shipped().content.root.parent / "flows", offer_reminders=True
    ).engine
    walker = Walker(engine)
    walker.send(Start())
    outcome = walker.send(Text("I can't pee"))
    assert outcome.assessment is not None and outcome.assessment.urgency == "EMERGENCY"
    before = walker.snapshot
    forged = walker.send(Press(f"{walker.snapshot.step}:rem"))
    assert forged.rejected and walker.snapshot == before


def test_the_same_red_flag_typed_again_repeats_the_emergency_advice():
    walker = Walker()
    walker.send(Start())
    walker.send(Text("I can't pee"))
    again = walker.send(Text("I still can't pee"))
    assert again.assessment is not None and again.assessment.urgency == "EMERGENCY"
    assert again.replies[0].kind is ReplyKind.ESCALATION


@pytest.mark.parametrize("then", ["no at the screen", "other signs ticked"])
def test_a_warning_sign_typed_earlier_is_not_undone_by_a_later_no(then):
    """Pins and needles typed while answering where it spreads is noted; a "No" (or a different
    tick) at the warning-sign screen that lists it must not make the check forget it."""
    walker = Walker()
    walker.send(Start())
    walker.press("y")
    walker.send(Text("lower back"))
    noted = walker.send(Text("pins and needles in my left leg"))
    assert core().content.messages.text("bot.flag_noted") in [reply.text for reply in noted.replies]
    walker.send(Text("nowhere"))
    walker.press("o0")
    walker.send(Text("3 weeks"))
    walker.send(Text("4"))
    walker.press("n")  # no emergency signs
    if then == "no at the screen":
        walker.press("n")
    else:
        walker.press("y")
        walker.tap_options([flag_label("hip_clicking_locking")])
    assert walker.snapshot.answers["leg_numbness"] is True
    walker.press("n")  # no precautions
    walker.send(Text("34"))
    walker.press("o0")
    walker.press("o0")
    walker.press("n")
    walker.press("skip")
    assert walker.snapshot.result is not None
    assert (
        walker.snapshot.result["urgency"] == "ROUTINE" and "leg_numbness" in walker.snapshot.result["reasons"]
    )
