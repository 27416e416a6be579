"""The conversation engine: one user input in, new state and replies out.

`ConversationEngine.step` is pure: it takes the stored snapshot of one user's
conversation and one event, and returns the next snapshot and the replies. The
service in bot/core/service.py wraps it in a storage transaction, so every
front (terminal, Telegram, tests) gets the same behaviour, and a crash between
inputs loses nothing.

Decisions worth knowing:
- Typed text is always scanned for red flags first, in any state, even when no
  check is running. A flag that raises the urgency to URGENT or EMERGENCY ends
  the questions at once and shows the result; a lower-level flag (for example
  numbness in one leg) is recorded and the current question is asked again.
- Button answers escalate at once only at EMERGENCY; at URGENT the few
  remaining questions still run, because they can only raise the urgency
  (anticoagulants or an aneurysm can turn URGENT into EMERGENCY).
- Bad input never changes state: an unknown answer gets a hint and the same
  question; a stale button gets a note and the current question; forged or
  malformed button data is ignored and reported to the caller for logging.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from bot.core import understanding
from bot.core.answers import SETUP_KEY_SPECS
from bot.core.clock import LocalTime, QuietHours, parse_zone
from bot.core.conditions import FlowModel
from bot.core.content import Content, Question
from bot.core.events import (
    Back,
    Cancel,
    ChangeReminderTime,
    ChangeTimezone,
    Event,
    Help,
    NewCheck,
    Press,
    Select,
    ShowRoutine,
    Start,
    Text,
    Unsupported,
)
from bot.core.flow import Flow
from bot.core.presenter import Presenter
from bot.core.replies import Reply, ReplyKind
from bot.core.routines import match_routine, personalise
from bot.core.triage import TriageResult, is_emergency, triage

MAX_TEXT_SCANNED = 6000
LONG_TEXT = 1000
# Every token a button of ours can carry; anything else is forged or corrupted.
_BUTTON_DATA = re.compile(r"^(\d{1,9}):(y|n|ok|none|skip|back|new|routine|rem|[vot]\d{1,3})$")
MAIN_FLOW = "symptom_check"
SETUP_FLOW = "reminder_setup"
DEFAULT_QUIET_HOURS = QuietHours(LocalTime(22, 0), LocalTime(7, 0))


@dataclass(frozen=True)
class Snapshot:
    """One user's conversation as stored: enough to resume after any restart."""

    state: str | None = None
    step: int = 0
    history: tuple[str, ...] = ()
    answers: dict[str, Any] = field(default_factory=dict)
    pending: tuple[str, ...] = ()
    check_id: int | None = None
    result: dict[str, Any] | None = None
    flow: str = MAIN_FLOW
    context: dict[str, Any] = field(default_factory=dict)
    """Conversation-level facts outside any check: the time zone, set-up answers."""


@dataclass(frozen=True)
class Outcome:
    """The result of one step. `new_check` asks storage to open a check record."""

    snapshot: Snapshot
    replies: list[Reply]
    new_check: bool = False
    cancelled: bool = False
    assessment: TriageResult | None = None
    routine_id: str | None = None
    rejected: str | None = None
    """Why an input was ignored (forged or malformed button), for the log."""
    effects: tuple[dict[str, Any], ...] = ()
    """What storage should do besides saving the snapshot (save reminders, a time zone)."""


class ConversationEngine:
    """Runs the flows for any number of users, one machine per flow."""

    def __init__(self, content: Content, flows: dict[str, Flow], *, offer_reminders: bool = False) -> None:
        self.content = content
        self.flows = flows
        self.flow = flows[MAIN_FLOW]
        result_state = self.flow.state_with("show_result")
        assert result_state is not None, "the symptom check flow needs a show_result state"
        self.result_state = result_state
        self.offer_reminders = offer_reminders and SETUP_FLOW in flows
        self.present = Presenter(content)
        self.messages = content.messages
        self._back_words = {word.casefold() for word in content.messages.lines("common.back_words")}

    # ------------------------------------------------------------ entry point

    def step(self, snapshot: Snapshot, event: Event) -> Outcome:
        if isinstance(event, Start):
            return self._start(snapshot)
        if isinstance(event, NewCheck):
            return self._begin(snapshot, [])
        if isinstance(event, Help):
            return Outcome(snapshot, [self.present.info("bot.help"), *self._current(snapshot)])
        if isinstance(event, Cancel):
            return self._cancel(snapshot)
        if isinstance(event, ShowRoutine):
            return Outcome(snapshot, self._routine_replies(snapshot))
        if isinstance(event, Back):
            return self._back(snapshot)
        if isinstance(event, Unsupported):
            return Outcome(snapshot, [self.present.info("bot.unsupported_input"), *self._current(snapshot)])
        if isinstance(event, Text):
            return self._text(snapshot, event.text)
        if isinstance(event, Press):
            return self._press(snapshot, event.data)
        if isinstance(event, ChangeTimezone):
            return self._begin_setup(snapshot, "timezone", "timezone")
        if isinstance(event, ChangeReminderTime):
            return self._begin_setup(snapshot, "change_time", "time", reminder_id=event.reminder_id)
        return self._select(snapshot, event)

    # ------------------------------------------------------------ commands

    def _start(self, snapshot: Snapshot) -> Outcome:
        if self._question(snapshot) is not None:
            return Outcome(snapshot, [self.present.info("bot.welcome_back"), *self._current(snapshot)])
        return self._begin(snapshot, [self.present.info("bot.greeting")])

    def _begin(self, snapshot: Snapshot, before: list[Reply]) -> Outcome:
        fresh = Snapshot(
            state=self.flow.initial,
            step=snapshot.step + 1,
            result=snapshot.result,
            context=_lasting(snapshot.context),
        )
        return Outcome(fresh, [*before, *self._current(fresh)], new_check=True)

    # ------------------------------------------------------------ reminder set-up

    def _begin_setup(self, snapshot: Snapshot, purpose: str, state: str, **extra: Any) -> Outcome:
        """Enter the set-up flow at the state that fits; the check itself is left as it was."""
        if not self.offer_reminders:
            return Outcome(snapshot, [self.present.info("reminders.unavailable")])
        if purpose == "reminders" and snapshot.context.get("timezone"):
            state = "days"
        context = {
            **_lasting(snapshot.context),
            "purpose": purpose,
            "return_state": self._return_state(snapshot),
            **extra,
        }
        entered = replace(
            snapshot,
            flow=SETUP_FLOW,
            state=state,
            step=snapshot.step + 1,
            history=(),
            context=context,
            pending=(),
        )
        entered = replace(entered, pending=self._preselect(entered))
        return Outcome(entered, self._current(entered))

    def _return_state(self, snapshot: Snapshot) -> str | None:
        if snapshot.flow == MAIN_FLOW:
            return snapshot.state
        return snapshot.context.get("return_state")

    def _preselect(self, snapshot: Snapshot) -> tuple[str, ...]:
        """Days default to the routine's own cadence, so one tap on Done accepts them."""
        question = self._question(snapshot)
        if question is None or question.key != "reminder_days":
            return ()
        routine = self.content.routines.get(str((snapshot.result or {}).get("routine")))
        return routine.suggested_days if routine else ()

    def _leave_setup(
        self, snapshot: Snapshot, replies: list[Reply], effects: tuple[dict[str, Any], ...] = ()
    ) -> Outcome:
        back = replace(
            snapshot,
            flow=MAIN_FLOW,
            state=snapshot.context.get("return_state"),
            step=snapshot.step + 1,
            history=(),
            pending=(),
            context=_lasting(snapshot.context),
        )
        # Back where the user was: if that is a question of the check, ask it again.
        return Outcome(
            back, [*replies, *self._current(back)] if self._question(back) else replies, effects=effects
        )

    def _finish_setup(self, snapshot: Snapshot, action: str) -> Outcome:
        context = snapshot.context
        zone = str(context.get("timezone", ""))
        if action == "save_timezone":
            effect: dict[str, Any] = {"type": "set_timezone", "timezone": zone}
            reply = self.present.info("reminders.timezone_saved", zone=zone)
        elif action == "change_reminder_time":
            effect = {
                "type": "change_reminder_time",
                "reminder_id": context.get("reminder_id"),
                "time": context.get("reminder_time"),
                "timezone": zone,
            }
            reply = self.present.info("reminders.time_changed", time=context.get("reminder_time"))
        else:
            days = [
                day
                for day in SETUP_KEY_SPECS["reminder_days"].choices
                if day in context.get("reminder_days", [])
            ]
            effect = {
                "type": "save_reminders",
                "days": days,
                "time": context.get("reminder_time"),
                "timezone": zone,
                "routine": (snapshot.result or {}).get("routine"),
                "baseline_pain": snapshot.answers.get("pain_now"),
                "ball_allowed": bool((snapshot.result or {}).get("ball_release_allowed")),
            }
            names = ", ".join(self.messages.text(f"day.{day}") for day in days)
            reply = self.present.info(
                "reminders.saved", days=names, time=context.get("reminder_time"), zone=zone
            )
        effects: tuple[dict[str, Any], ...] = (effect,)
        if action == "save_reminders" and zone:
            effects = ({"type": "set_timezone", "timezone": zone}, effect)
        return self._leave_setup(snapshot, [reply], effects)

    def _cancel(self, snapshot: Snapshot) -> Outcome:
        if snapshot.flow != MAIN_FLOW:
            return self._leave_setup(snapshot, [self.present.info("reminders.setup_cancelled")])
        if self._question(snapshot) is None:
            return Outcome(snapshot, [self.present.info("bot.nothing_to_cancel")])
        stopped = replace(
            snapshot, state=None, step=snapshot.step + 1, history=(), pending=(), answers={}, check_id=None
        )
        return Outcome(stopped, [self.present.info("bot.cancelled")], cancelled=True)

    def _back(self, snapshot: Snapshot) -> Outcome:
        if self._question(snapshot) is None or not snapshot.history:
            return Outcome(snapshot, [self.present.info("bot.cannot_go_back"), *self._current(snapshot)])
        previous = replace(
            snapshot,
            state=snapshot.history[-1],
            history=snapshot.history[:-1],
            step=snapshot.step + 1,
            pending=(),
        )
        return Outcome(previous, self._current(previous))

    # ------------------------------------------------------------ current question

    def _flow_of(self, snapshot: Snapshot) -> Flow:
        return self.flows.get(snapshot.flow, self.flow)

    def _question(self, snapshot: Snapshot) -> Question | None:
        if snapshot.state is None:
            return None
        question_id = self._flow_of(snapshot).question_of(snapshot.state)
        return self.content.questions[question_id] if question_id else None

    def _current(self, snapshot: Snapshot, *, edit: bool = False, prefix: str | None = None) -> list[Reply]:
        """The question the user is on (or a pointer to /check when there is none)."""
        question = self._question(snapshot)
        if question is None:
            key = "bot.check_finished" if snapshot.result else "bot.no_check_yet"
            return [self.present.info(key)]
        return [
            self.present.question(
                question,
                snapshot.step,
                selected=snapshot.pending,
                can_go_back=bool(snapshot.history),
                edit=edit,
                prefix=prefix,
            )
        ]

    # ------------------------------------------------------------ typed text

    def _text(self, snapshot: Snapshot, raw: str) -> Outcome:
        text = raw[:MAX_TEXT_SCANNED]
        if text.strip().casefold() in self._back_words:
            return self._back(snapshot)
        findings = understanding.understand(text, self.content.lexicon)
        affirmed = {key for key, value in findings.flags.items() if value}
        question = self._question(snapshot)

        answered: Outcome | None = None
        if question is not None and len(text) <= LONG_TEXT:
            parsed = self._parse_text(question, text)
            if parsed is not None:
                answered = self._apply(snapshot, question, parsed)

        base = answered.snapshot if answered else snapshot
        new_flags = {key for key in affirmed if base.answers.get(key) is not True}
        if new_flags:
            return self._red_flags_in_text(base, new_flags, answered)
        if affirmed and answered is None and triage(base.answers, self.content).at_least("URGENT"):
            # The same red flag again (after its result was shown): say it again, never "all done".
            return self._finish(base, new_check=base.check_id is None)
        if answered is not None:
            return answered
        if question is None:
            return Outcome(snapshot, self._current(snapshot))
        hint = self.present.info("bot.too_long") if len(text) > LONG_TEXT else self.present.hint(question)
        return Outcome(snapshot, [hint, *self._current(snapshot)])

    def _red_flags_in_text(self, base: Snapshot, flags: set[str], answered: Outcome | None) -> Outcome:
        answers = dict(base.answers)
        answers.update({key: True for key in flags})
        after = triage(answers, self.content)
        # Repeating urgent advice is harmless; missing it is not, so any text that
        # reaches URGENT shows the result, even if it was shown before.
        escalates = after.at_least("URGENT")
        new_check = base.check_id is None
        if escalates:
            updated = replace(base, answers=answers, pending=())
            return self._finish(updated, new_check=new_check)
        if base.state is None or base.state == self.result_state or new_check or base.flow != MAIN_FLOW:
            # Nothing urgent and no check running: note it, point to a new check.
            noted = [self.present.info("bot.flag_noted"), *self._current(base)]
            return Outcome(base, noted) if answered is None else replace(answered, replies=noted)
        updated = replace(base, answers=answers)
        if answered is not None:
            return replace(
                answered, snapshot=updated, replies=[self.present.info("bot.flag_noted"), *answered.replies]
            )
        return Outcome(updated, [self.present.info("bot.flag_noted"), *self._current(updated)])

    def _parse_text(self, question: Question, text: str) -> Any:
        lexicon = self.content.lexicon
        if question.type == "yes_no":
            return understanding.parse_yes_no(text, lexicon)
        if question.type == "number":
            value = understanding.parse_pain_score(text, lexicon)
            if value is None and text.strip().isdecimal():
                return None
            return value
        if question.type == "free_text":
            if text.strip().casefold() == self.messages.text("common.skip").casefold():
                return ""
            return text.strip() or None
        if question.type == "multi_choice":
            if question.key is not None and question.parser == "areas":
                areas = understanding.parse_areas(text, lexicon)
                if areas:
                    return tuple(areas)
                if question.none_option and understanding.parse_yes_no(text, lexicon) is False:
                    return ()
                return None
            if question.none_option and understanding.parse_yes_no(text, lexicon) is False:
                return ()
            return None
        return self._parse_single_choice(question, text)

    def _parse_single_choice(self, question: Question, text: str) -> Any:
        lexicon = self.content.lexicon
        stripped = text.strip()
        if stripped.isdecimal() and 1 <= int(stripped) <= len(question.options) and question.parser is None:
            return question.options[int(stripped) - 1].id
        if question.parser == "duration":
            weeks = understanding.parse_duration_weeks(text, lexicon)
            return ("value", weeks) if weeks is not None else None
        if question.parser == "age":
            age = understanding.parse_age(text, lexicon)
            return ("value", age) if age is not None else None
        if question.parser == "sex":
            bare = text.strip().casefold().strip(".!")
            sex = lexicon.sex_codes.get(bare) or understanding.understand(text, lexicon).sex
            return ("value", sex) if sex is not None else None
        if question.parser == "timezone":
            zone = parse_zone(text, self.content.zone_aliases)
            return ("value", zone.zone) if zone is not None else None
        if question.parser == "time":
            time = LocalTime.parse(text)
            if time is None or DEFAULT_QUIET_HOURS.contains(time):
                return None
            return ("value", str(time))
        lowered = stripped.casefold()
        for option in question.options:
            if self.messages.text(option.label_key).casefold() == lowered:
                return option.id
        return None

    # ------------------------------------------------------------ buttons

    def _press(self, snapshot: Snapshot, data: str) -> Outcome:
        match = _BUTTON_DATA.match(data or "")
        if match is None:
            return Outcome(snapshot, [], rejected="malformed button data")
        step, token = int(match.group(1)), match.group(2)
        if step != snapshot.step:
            if step > snapshot.step:
                return Outcome(snapshot, [], rejected="button from the future")
            return Outcome(snapshot, [self.present.info("bot.stale_button"), *self._current(snapshot)])
        if token in ("new", "routine") and snapshot.state != self.result_state:
            return Outcome(snapshot, [], rejected=f"{token!r} is only offered with a result")
        if token == "new":
            return self._begin(snapshot, [])
        if token == "rem":
            stored = snapshot.result or {}
            offered = snapshot.state == self.result_state and stored.get("urgency") in (
                "SELF_CARE",
                "ROUTINE",
            )
            if not (offered and stored.get("routine")):
                return Outcome(snapshot, [], rejected="reminders were not offered here")
            return self._begin_setup(snapshot, "reminders", "timezone")
        if token == "routine":
            return Outcome(snapshot, self._routine_replies(snapshot))
        if token == "back":
            return self._back(snapshot)
        question = self._question(snapshot)
        if question is None:
            return Outcome(snapshot, [], rejected="button for no question")
        return self._press_answer(snapshot, question, token)

    def _press_answer(self, snapshot: Snapshot, question: Question, token: str) -> Outcome:
        kind = question.type
        if kind == "yes_no" and token in ("y", "n"):
            return self._apply(snapshot, question, token == "y")
        if kind == "number" and token.startswith("v"):
            value = _index(token)
            low, high = question.minimum, question.maximum
            if value is not None and low is not None and high is not None and low <= value <= high:
                return self._apply(snapshot, question, value)
        if kind == "single_choice" and token.startswith("o"):
            index = _index(token)
            if index is not None and index < len(question.options):
                return self._apply(snapshot, question, question.options[index].id)
        if kind == "free_text" and token == "skip" and question.skippable:
            return self._apply(snapshot, question, "")
        if kind == "multi_choice":
            return self._press_multi(snapshot, question, token)
        return Outcome(snapshot, [], rejected=f"token {token!r} does not fit question {question.id}")

    def _press_multi(self, snapshot: Snapshot, question: Question, token: str) -> Outcome:
        if token.startswith("t"):
            index = _index(token)
            if index is None or index >= len(question.options):
                return Outcome(snapshot, [], rejected="option out of range")
            option_id = question.options[index].id
            pending = tuple(
                option.id
                for option in question.options
                if (option.id in snapshot.pending) != (option.id == option_id)
            )
            toggled = replace(snapshot, pending=pending)
            return Outcome(toggled, self._current(toggled, edit=True))
        if token == "none" and question.none_option:
            return self._apply(snapshot, question, ())
        if token == "ok":
            if not snapshot.pending and not question.none_option:
                return Outcome(snapshot, [self.present.info("bot.choose_at_least_one")])
            return self._apply(snapshot, question, snapshot.pending)
        return Outcome(snapshot, [], rejected=f"token {token!r} does not fit question {question.id}")

    def _select(self, snapshot: Snapshot, event: Select) -> Outcome:
        question = self._question(snapshot)
        parsed = [_BUTTON_DATA.match(data) for data in event.data]
        if question is None or any(match is None for match in parsed):
            return Outcome(snapshot, [], rejected="malformed selection")
        steps = {int(match.group(1)) for match in parsed if match}
        if steps and steps != {snapshot.step}:
            return Outcome(snapshot, [self.present.info("bot.stale_button"), *self._current(snapshot)])
        indexes = [
            _index(match.group(2)) if match and match.group(2).startswith("t") else None for match in parsed
        ]
        if question.type != "multi_choice" or any(i is None or i >= len(question.options) for i in indexes):
            return Outcome(snapshot, [self.present.hint(question), *self._current(snapshot)])
        chosen = tuple(question.options[i].id for i in indexes if i is not None)
        if not chosen and not question.none_option:
            return Outcome(snapshot, [self.present.info("bot.choose_at_least_one"), *self._current(snapshot)])
        return self._apply(snapshot, question, chosen)

    # ------------------------------------------------------------ applying an answer

    def _apply(self, snapshot: Snapshot, question: Question, value: Any) -> Outcome:
        answers = dict(snapshot.answers)
        context = dict(snapshot.context)
        target = context if question.key in SETUP_KEY_SPECS else answers
        last_answer: Any = value
        if question.type == "yes_no":
            if question.key:
                answers[question.key] = value
            if question.group and value is False:
                answers.update({key: False for key in self.content.groups[question.group]})
        elif question.type == "number":
            assert question.key is not None
            answers[question.key] = int(value)
        elif question.type == "free_text":
            if value:
                previous = answers.get("text")
                answers["text"] = f"{previous}\n{value}" if previous else value
        elif question.type == "multi_choice":
            chosen = tuple(value)
            if question.group:
                answers.update({key: key in chosen for key in self.content.groups[question.group]})
            elif question.key:
                target[question.key] = [option.id for option in question.options if option.id in chosen]
        else:
            if isinstance(value, tuple) and value[0] == "value":
                assert question.key is not None
                target[question.key] = value[1]
            else:
                option = question.option(value)
                assert option is not None
                for key, chosen_value in option.sets.items():
                    (context if key in SETUP_KEY_SPECS else answers)[key] = chosen_value
        assert snapshot.state is not None
        flow = self._flow_of(snapshot)
        model = FlowModel(snapshot.state, answers, last_answer, self.content, context)
        flow.fire("answer", model)
        in_check = flow is self.flow
        if in_check and model.state != self.result_state and is_emergency(answers, self.content):
            flow.fire("escalate", model)
        advanced = replace(
            snapshot,
            state=model.state,
            step=snapshot.step + 1,
            history=(*snapshot.history, snapshot.state),
            answers=answers,
            context=context,
            pending=(),
        )
        action = flow.states[model.state].action
        if action == "show_result":
            return self._finish(advanced, new_check=False)
        if action is not None:
            return self._finish_setup(advanced, action)
        advanced = replace(advanced, pending=self._preselect(advanced))
        if flow.states[model.state].final:
            stopped = replace(advanced, state=None, history=(), answers={}, check_id=None)
            return Outcome(stopped, [self.present.info("bot.declined")], cancelled=True)
        return Outcome(advanced, self._current(advanced))

    def _finish(self, snapshot: Snapshot, *, new_check: bool) -> Outcome:
        """Show the result: triage, reasons, what to do, and the routine if any."""
        result = triage(snapshot.answers, self.content)
        routine = match_routine(snapshot.answers, result, self.content)
        step = snapshot.step + 1
        stored = {
            "urgency": result.urgency,
            "reasons": list(result.reasons),
            "contraindications": list(result.contraindications),
            "forbidden_tags": sorted(result.forbidden_tags),
            "ball_release_allowed": result.ball_release_allowed,
            "routine": routine.id if routine else None,
        }
        finished = replace(
            snapshot,
            flow=MAIN_FLOW,
            state=self.result_state,
            step=step,
            pending=(),
            history=(),
            result=stored,
            context=_lasting(snapshot.context),
        )
        replies = self.present.result(
            result,
            snapshot.answers,
            routine,
            step,
            offer_reminders=self.offer_reminders and routine is not None,
        )
        # Any existing reminder plan must follow the newest result at once (see PlanService).
        effect = {"type": "assessment", **stored}
        return Outcome(
            finished,
            replies,
            new_check=new_check,
            assessment=result,
            routine_id=routine.id if routine else None,
            effects=(effect,),
        )

    def _routine_replies(self, snapshot: Snapshot) -> list[Reply]:
        stored = snapshot.result or {}
        routine_id = stored.get("routine")
        if not routine_id or routine_id not in self.content.routines:
            return [self.present.info("routine_view.none_yet")]
        result = TriageResult(
            urgency=str(stored.get("urgency", "SELF_CARE")),
            reasons=tuple(stored.get("reasons", ())),
            contraindications=tuple(stored.get("contraindications", ())),
            forbidden_tags=frozenset(stored.get("forbidden_tags", ())),
        )
        routine = personalise(self.content.routines[routine_id], result, self.content)
        return [self.present.routine(routine)]


def _lasting(context: dict[str, Any]) -> dict[str, Any]:
    """The part of the context that outlives a flow: the user's time zone."""
    return {key: value for key, value in context.items() if key == "timezone"}


def _index(token: str) -> int | None:
    digits = token[1:]
    return int(digits) if digits.isdecimal() else None


__all__ = ["ConversationEngine", "Outcome", "ReplyKind", "Snapshot"]
