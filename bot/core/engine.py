"""The conversation engine: one user input in, new state and replies out.

`ConversationEngine.step` is pure: it takes the stored snapshot of one user's
conversation, their plan and one event, and returns the next snapshot, the plan
change and the replies. The service in bot/core/service.py wraps it in a storage
transaction, so every front (terminal, Telegram, tests) gets the same behaviour,
and a crash between inputs loses nothing.

Decisions worth knowing:
- Typed text is always scanned for red flags first, in any state, even when no
  check is running. A flag that raises the urgency to URGENT or EMERGENCY ends
  the questions at once and shows the result; a lower-level flag (for example
  numbness in one leg) is recorded and the current question is asked again.
- Button answers escalate at once only at EMERGENCY; at URGENT the few
  remaining questions still run, because they can only raise the urgency
  (anticoagulants or an aneurysm can turn URGENT into EMERGENCY).
- Every screen that shows exercises renders from the plan (bot/core/plan): the
  result, /routine, and everything the plan service shows. A result is an event
  on the plan; what the plan has withdrawn stays withdrawn.
- Bad input never changes state: an unknown answer gets a hint and the same
  question; a stale button gets a note and the current question; forged or
  malformed button data is ignored and reported to the caller for logging.
- Each step speaks the person's language (`step(..., language=)`): the engine for
  that language is the same engine built on the content in that language. Choosing
  another language (/language) changes no answer and asks the current question again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from bot.core import understanding
from bot.core.answers import SETUP_KEY_SPECS
from bot.core.clock import LocalTime, QuietHours, parse_time_range, parse_zone
from bot.core.conditions import FlowModel
from bot.core.content import Content, Question
from bot.core.events import (
    Back,
    Cancel,
    ChangeQuietHours,
    ChangeReminderDays,
    ChangeReminderTime,
    ChangeTimezone,
    ChooseLanguage,
    Event,
    Help,
    NewCheck,
    Press,
    ReviewPlan,
    Select,
    ShowRoutine,
    Start,
    Text,
    Unsupported,
)
from bot.core.flow import Flow
from bot.core.plan.lifecycle import Assessed, PlanRules
from bot.core.plan.model import Plan, PlanChange, PlanState
from bot.core.policy import Urgency
from bot.core.presenter import LANGUAGE_BUTTON, Presenter
from bot.core.records import MAIN_FLOW, Snapshot
from bot.core.replies import Reply, ReplyKind
from bot.core.routines import PersonalRoutine, match_routine, plan_routine
from bot.core.triage import TriageResult, is_emergency, read_text, triage

LONG_TEXT = 1000
# What is not a word when judging whether typed text was the answer itself ("No.", "4/10").
PLAIN_TEXT = re.compile(r"[^\w]+")
# A yes/no typed in this many words or fewer ("no", "nope, none") is not said back.
YES_NO_PLAIN_WORDS = 3
# Every token a button of ours can carry; anything else is forged or corrupted.
_BUTTON_DATA = re.compile(
    r"^(\d{1,9}):(y|n|u|c[ynu]|ok|none|skip|back|new|routine|rem|review|steps|up\d{1,2}|dn\d{1,2}|[vot]\d{1,3})$"
)
_T = TypeVar("_T")
SETUP_FLOW = "reminder_setup"
CONFIRM = "confirm"
"""Context key: warning signs typed text touched uncertainly, each asked about explicitly
before the conversation goes on (they survive a restart with the conversation)."""
REVIEW_FLOW = "plan_review"

__all__ = ["MAIN_FLOW", "ConversationEngine", "Outcome", "ReplyKind", "Snapshot"]


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
    plan_change: PlanChange | None = None
    """The plan after this step and the event that changed it, when it changed."""
    language: str | None = None
    """The language the person chose in this step (/language), for storage to keep."""


class ConversationEngine:
    """Runs the flows for any number of users, one machine per flow."""

    def __init__(
        self,
        content: Content,
        flows: dict[str, Flow],
        plan_rules: PlanRules,
        *,
        offer_reminders: bool = False,
    ) -> None:
        self.content = content
        self.flows = flows
        self.flow = flows[MAIN_FLOW]
        result_state = self.flow.state_with("show_result")
        assert result_state is not None, "the symptom check flow needs a show_result state"
        self.result_state = result_state
        self.plan_rules = plan_rules
        self.offer_reminders = offer_reminders and SETUP_FLOW in flows
        self.present = Presenter(content)
        self.messages = content.messages
        self._back_words = {word.casefold() for word in content.messages.lines("common.back_words")}
        self._languages: dict[str, ConversationEngine] = {content.language: self}

    def in_language(self, language: str | None) -> ConversationEngine:
        """This engine speaking `language` (the default when it is not present)."""
        code = self.content.pick_language(language)
        found = self._languages.get(code)
        if found is None:
            found = ConversationEngine(
                self.content.in_language(code),
                self.flows,
                self.plan_rules,
                offer_reminders=self.offer_reminders,
            )
            found._languages = self._languages
            self._languages[code] = found
        return found

    # ------------------------------------------------------------ entry point

    def step(
        self,
        snapshot: Snapshot,
        event: Event,
        plan: Plan | None = None,
        now: datetime | None = None,
        *,
        language: str | None = None,
    ) -> Outcome:
        """One input. `plan` is the person's stored plan; `now` stamps any plan event;
        `language` is the person's (the replies are in it)."""
        engine = self if language is None else self.in_language(language)
        return engine._step(snapshot, event, plan, now or datetime.now(UTC))

    def _step(self, snapshot: Snapshot, event: Event, plan: Plan | None, now: datetime) -> Outcome:
        if isinstance(event, Start):
            return self._start(snapshot)
        if isinstance(event, NewCheck):
            return self._begin(snapshot, [])
        if isinstance(event, Help):
            return Outcome(snapshot, [self.present.info("bot.help"), *self._current(snapshot)])
        if isinstance(event, Cancel):
            return self._cancel(snapshot)
        if isinstance(event, ShowRoutine):
            return Outcome(snapshot, self._routine_replies(snapshot, plan))
        if isinstance(event, Back):
            return self._back(snapshot)
        if isinstance(event, Unsupported):
            return Outcome(snapshot, [self.present.info("bot.unsupported_input"), *self._current(snapshot)])
        if isinstance(event, Text):
            return self._text(snapshot, event.text, plan, now)
        if isinstance(event, Press):
            return self._press(snapshot, event.data, plan, now)
        if isinstance(event, ChangeTimezone):
            return self._begin_setup(snapshot, plan, "timezone", "timezone")
        if isinstance(event, ChangeReminderTime):
            return self._begin_setup(snapshot, plan, "change_time", "time", reminder_id=event.reminder_id)
        if isinstance(event, ChangeReminderDays):
            return self._begin_setup(snapshot, plan, "change_days", "days", reminder_id=event.reminder_id)
        if isinstance(event, ChangeQuietHours):
            return self._begin_setup(snapshot, plan, "quiet_hours", "quiet")
        if isinstance(event, ReviewPlan):
            return self._begin_review(snapshot, plan)
        if isinstance(event, ChooseLanguage):
            return Outcome(snapshot, [self.present.language_menu()])
        return self._select(snapshot, event, plan, now)

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

    # ------------------------------------------------------------ side flows (reminders, plan review)

    def _enter(self, snapshot: Snapshot, flow: str, state: str, context: dict[str, Any]) -> Outcome:
        """Enter a side flow at `state`; the check itself is left as it was, to come back to."""
        entered = replace(
            snapshot,
            flow=flow,
            state=state,
            step=snapshot.step + 1,
            history=(),
            context={**_lasting(snapshot.context), "return_state": self._return_state(snapshot), **context},
            pending=(),
        )
        entered = replace(entered, pending=self._preselect(entered))
        return Outcome(entered, self._current(entered))

    def _begin_setup(
        self, snapshot: Snapshot, plan: Plan | None, purpose: str, state: str, **extra: Any
    ) -> Outcome:
        if not self.offer_reminders:
            return Outcome(snapshot, [self.present.info("reminders.unavailable")])
        if purpose == "reminders" and snapshot.context.get("timezone"):
            state = "days"
        routine = plan_routine(plan, self.content)
        context: dict[str, Any] = {"purpose": purpose, **extra}
        if routine is not None:
            context["suggested_days"] = list(routine.routine.suggested_days)
        return self._enter(snapshot, SETUP_FLOW, state, context)

    def _begin_review(self, snapshot: Snapshot, plan: Plan | None) -> Outcome:
        """ "Has a professional checked you?" before a paused plan restarts."""
        if plan is None or plan.state is not PlanState.PAUSED or REVIEW_FLOW not in self.flows:
            return Outcome(snapshot, self._routine_replies(snapshot, plan))
        return self._enter(snapshot, REVIEW_FLOW, self.flows[REVIEW_FLOW].initial, {"purpose": "review"})

    def _return_state(self, snapshot: Snapshot) -> str | None:
        if snapshot.flow == MAIN_FLOW:
            return snapshot.state
        return snapshot.context.get("return_state")

    def _preselect(self, snapshot: Snapshot) -> tuple[str, ...]:
        """Days default to the routine's own cadence, so one tap on Done accepts them."""
        question = self._question(snapshot)
        if question is None or question.key != "reminder_days":
            return ()
        return tuple(snapshot.context.get("suggested_days", ()))

    def _leave_side_flow(
        self,
        snapshot: Snapshot,
        replies: list[Reply] | Callable[[Snapshot], list[Reply]],
        effects: tuple[dict[str, Any], ...] = (),
        plan_change: PlanChange | None = None,
    ) -> Outcome:
        """Back where the user was before the side flow. `replies` may be built from the snapshot
        returned to, so that any button they carry names the step the person will be on."""
        back = replace(
            snapshot,
            flow=MAIN_FLOW,
            state=snapshot.context.get("return_state"),
            step=snapshot.step + 1,
            history=(),
            pending=(),
            context=_lasting(snapshot.context),
        )
        said = replies(back) if callable(replies) else replies
        # Back where the user was: if that is a question of the check, ask it again.
        more = self._current(back) if self._question(back) else []
        return Outcome(back, [*said, *more], effects=effects, plan_change=plan_change)

    def _finish_side_flow(self, snapshot: Snapshot, action: str, plan: Plan | None, now: datetime) -> Outcome:
        context = snapshot.context
        zone = str(context.get("timezone", ""))
        if action in ("resume_plan", "keep_paused"):
            return self._finish_review(snapshot, action == "resume_plan", plan, now)
        if action == "save_timezone":
            effect: dict[str, Any] = {"type": "set_timezone", "timezone": zone}
            reply = self.present.info("reminders.timezone_saved", zone=self.messages.zone(zone))
        elif action == "save_quiet_hours":
            start, end = str(context.get("quiet_hours", "22:00-07:00")).split("-")
            effect = {"type": "set_quiet_hours", "start": start, "end": end}
            reply = self.present.info(
                "reminders.quiet_saved", start=self._shown_time(start), end=self._shown_time(end)
            )
        elif action == "change_reminder_time":
            effect = {
                "type": "change_reminder_time",
                "reminder_id": context.get("reminder_id"),
                "time": context.get("reminder_time"),
            }
            reply = self.present.info(
                "reminders.time_changed", time=self._shown_time(context.get("reminder_time"))
            )
        elif action == "change_reminder_days":
            days = self._chosen_days(context)
            effect = {"type": "change_reminder_days", "reminder_id": context.get("reminder_id"), "days": days}
            reply = self.present.info("reminders.days_changed", days=self._day_names(days))
        else:
            days = self._chosen_days(context)
            effect = {
                "type": "save_reminders",
                "days": days,
                "time": context.get("reminder_time"),
                "timezone": zone,
            }
            reply = self.present.info(
                "reminders.saved",
                days=self._day_names(days),
                time=self._shown_time(context.get("reminder_time")),
                zone=self.messages.zone(zone),
            )
            if not (plan is not None and plan.state.sends_reminders):
                # Only possible with a forged or very old button; never exercise reminders then.
                return self._leave_side_flow(snapshot, [self.present.info("plan.no_exercises_now")])
        effects: tuple[dict[str, Any], ...] = (effect,)
        if action == "save_reminders" and zone:
            effects = ({"type": "set_timezone", "timezone": zone}, effect)
        return self._leave_side_flow(snapshot, [reply], effects)

    def _chosen_days(self, context: dict[str, Any]) -> list[str]:
        chosen = context.get("reminder_days", [])
        return [day for day in SETUP_KEY_SPECS["reminder_days"].choices if day in chosen]

    def _shown_time(self, stored: object) -> str:
        """ "18:45" as the person's language writes a time of day."""
        parsed = LocalTime.parse(str(stored))
        return self.messages.time(parsed) if parsed is not None else str(stored)

    def _day_names(self, days: list[str]) -> str:
        return self.messages.join(self.messages.text(f"day.{day}") for day in days)

    def _finish_review(self, snapshot: Snapshot, checked: bool, plan: Plan | None, now: datetime) -> Outcome:
        if plan is None or plan.state is not PlanState.PAUSED:
            return self._leave_side_flow(snapshot, lambda back: self._routine_replies(back, plan))
        change = self.plan_rules.resumed(plan, checked, now)
        if not checked:
            still = change.plan or plan

            def advice(back: Snapshot) -> list[Reply]:
                return [self.present.info("plan.review_not_yet"), *self._pause_advice(still, back)]

            return self._leave_side_flow(snapshot, advice, plan_change=change)
        routine = plan_routine(change.plan, self.content)

        def restarted(back: Snapshot) -> list[Reply]:
            replies = [self.present.info("plan.review_resumed")]
            if routine is not None:
                replies.append(self.present.routine(routine, step=back.step, guided=self.offer_reminders))
            return replies

        return self._leave_side_flow(snapshot, restarted, ({"type": "plan_resumed"},), plan_change=change)

    def _cancel(self, snapshot: Snapshot) -> Outcome:
        if snapshot.flow != MAIN_FLOW:
            return self._leave_side_flow(snapshot, [self.present.info("reminders.setup_cancelled")])
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
        queue = snapshot.context.get(CONFIRM)
        if queue:
            return [self.present.confirm(str(queue[0]), snapshot.step)]
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

    def _text(self, snapshot: Snapshot, raw: str, plan: Plan | None, now: datetime) -> Outcome:
        """Typed text: an answer to the question on screen, and a reading for warning signs.

        Whatever it says, text may only raise: a warning sign read for sure is added (and
        may end the check with its advice), one read uncertainly is asked about at once with
        its explicit question, and nothing else in it changes an answer already given. What
        was understood is said in one line ("I noted: ..."), with Back to correct an answer.
        """
        text = raw
        if len(text) > understanding.MAX_TEXT_CHARS:
            return Outcome(snapshot, [self.present.info("bot.too_long"), *self._current(snapshot)])
        if text.strip().casefold() in self._back_words:
            return self._back(snapshot)
        if snapshot.context.get(CONFIRM):
            return self._confirm_typed(snapshot, text, plan, now)
        findings = read_text(text, self.content, now.date())  # triage reads the same text again
        question = self._question(snapshot)

        answered: Outcome | None = None
        noted: list[str] = []
        unsure = False
        if question is not None and len(text) <= LONG_TEXT:
            parsed = self._parse_text(question, text, snapshot, findings)
            touched = (findings.affirmed | findings.uncertain) & self._raising(snapshot.answers)
            if parsed is None and question.unsure and not touched and self._is_unsure(text):
                return self._press_answer(snapshot, question, "u", plan, now)
            if parsed is not None:
                answered = self._apply(snapshot, question, parsed, plan, now)
                described = self.present.described(question, parsed)
                noted = [] if self._plainly(question, text, described) else described
            unsure = parsed is None and self._is_unsure(text)

        base = answered.snapshot if answered else snapshot
        raising = self._raising(base.answers)
        new_flags = {key for key in findings.affirmed & raising if base.answers.get(key) is not True}
        doubtful = [key for key in self._flag_order if key in findings.uncertain & raising - new_flags]
        doubtful = [key for key in doubtful if base.answers.get(key) is not True]
        if new_flags:
            flagged = [self.present.flag_label(key) for key in self._flag_order if key in new_flags]
            outcome = self._red_flags_in_text(base, new_flags, answered, plan, now, [*noted, *flagged])
            return self._asking(outcome, doubtful)
        if doubtful:
            outcome = answered or Outcome(snapshot, [])
            return self._with_noted(self._asking(outcome, doubtful, replace_replies=True), noted)
        if (
            findings.affirmed & raising
            and answered is None
            and triage(base.answers, self.content).at_least(Urgency.URGENT)
        ):
            # The same red flag again (after its result was shown): say it again, never "all done".
            return self._finish(base, plan, now, new_check=base.check_id is None)
        if answered is not None:
            return self._with_noted(answered, noted)
        if question is None:
            return self._no_question(snapshot, text)
        too_long = len(text) > LONG_TEXT
        hint = self.present.info("bot.too_long") if too_long else self.present.hint(question, unsure=unsure)
        return Outcome(snapshot, [hint, *self._current(snapshot)])

    def _raising(self, answers: dict[str, Any]) -> frozenset[str]:
        """The yes/no keys typed text may turn to yes: those a red-flag or contraindication
        rule reads, except protective ones (a yes there could lower an urgency)."""
        return self.content.safety_keys - self.content.protective_keys

    @property
    def _flag_order(self) -> tuple[str, ...]:
        """Warning signs in the order the check lists them (emergency signs first)."""
        return tuple(key for keys in self.content.groups.values() for key in keys) + tuple(
            sorted(self.content.safety_keys - {k for keys in self.content.groups.values() for k in keys})
        )

    def _plainly(self, question: Question, text: str, described: list[str]) -> bool:
        """Whether typed text was the answer itself ("no", "38", "4/10", a button's words), so
        repeating it back ("I noted: No") would only be noise; anything read out of more words
        is said back, so a misreading is seen at once."""
        words = PLAIN_TEXT.sub(" ", text.casefold()).split()
        if not any(word.isalpha() for word in words):
            return True  # digits and signs only: "38", "4/10", "1,3"
        plain = " ".join(words)
        labels = [self.messages.text(option.label_key) for option in question.options]
        said = {" ".join(PLAIN_TEXT.sub(" ", label.casefold()).split()) for label in [*described, *labels]}
        return plain in said or (question.type == "yes_no" and len(words) <= YES_NO_PLAIN_WORDS)

    def _nothing_to_add(self, text: str, findings: understanding.Findings) -> bool:
        """A short no ("no thanks", "nein danke", "nada más") that names nothing the reader
        found (`findings`, already read from the same text): no sign, no place, no number."""
        if len(text.split()) > YES_NO_PLAIN_WORDS or findings.answers() or findings.uncertain:
            return False
        return understanding.parse_yes_no(text, self.content.lexicon) is False

    def _is_unsure(self, text: str) -> bool:
        return understanding.parse_unsure(text, self.content.lexicon)

    def _with_noted(self, outcome: Outcome, noted: list[str]) -> Outcome:
        """The first reply, led by one line saying what the typed text was understood as."""
        if not noted or not outcome.replies or outcome.replies[0].kind is not ReplyKind.QUESTION:
            return outcome  # a confirmation or a result already says what was taken
        line = self.messages.text(
            "bot.noted_back"
            if outcome.snapshot.history and self._question(outcome.snapshot)
            else "bot.noted",
            items=self.present.join(noted),
        )
        first, *rest = outcome.replies
        return replace(outcome, replies=[replace(first, text=f"{line}\n\n{first.text}"), *rest])

    # ------------------------------------------------------------ asking instead of guessing

    def _asking(self, outcome: Outcome, keys: list[str], *, replace_replies: bool = False) -> Outcome:
        """Queue the explicit question of each warning sign the text touched uncertainly.

        Not when the outcome already shows urgent advice: that advice stands, and the
        questions would only delay it.
        """
        if not keys or self._shows_urgent_advice(outcome.snapshot):
            return outcome
        queued = [key for key in keys if key not in outcome.snapshot.context.get(CONFIRM, [])]
        context = {**outcome.snapshot.context, CONFIRM: [*outcome.snapshot.context.get(CONFIRM, []), *queued]}
        asked = replace(outcome.snapshot, context=context, step=outcome.snapshot.step + 1)
        kept = [] if replace_replies else [r for r in outcome.replies if r.kind is not ReplyKind.QUESTION]
        return replace(outcome, snapshot=asked, replies=[*kept, *self._current(asked)])

    def _shows_urgent_advice(self, snapshot: Snapshot) -> bool:
        return (
            snapshot.state == self.result_state
            and snapshot.result is not None
            and Urgency(snapshot.result["urgency"]).is_escalation
        )

    def _confirm_typed(self, snapshot: Snapshot, text: str, plan: Plan | None, now: datetime) -> Outcome:
        lexicon = self.content.lexicon
        if self._is_unsure(text):
            return self._confirmed(snapshot, "u", plan, now)
        answer = understanding.parse_yes_no(text, lexicon)
        if answer is None:
            findings = understanding.understand(text, lexicon, now.date())
            key = snapshot.context[CONFIRM][0]
            if findings.flags.get(key) is True:
                answer = True
            else:
                return Outcome(snapshot, [self.present.info("confirm.hint"), *self._current(snapshot)])
        return self._confirmed(snapshot, "y" if answer else "n", plan, now)

    def _confirmed(self, snapshot: Snapshot, token: str, plan: Plan | None, now: datetime) -> Outcome:
        """The answer to one explicit question: yes and "not sure" both count as yes."""
        queue = list(snapshot.context.get(CONFIRM, []))
        key = queue.pop(0)
        rest = (
            {**snapshot.context, CONFIRM: queue}
            if queue
            else {name: value for name, value in snapshot.context.items() if name != CONFIRM}
        )
        after = replace(snapshot, context=rest)
        said: list[Reply] = []
        if token == "u":
            said.append(self.present.info("bot.unsure.confirm"))
        if token == "n":
            answers = dict(after.answers)
            if answers.get(key) is not True and after.state is not None and after.flow == MAIN_FLOW:
                answers[key] = False
            after = replace(after, answers=answers, step=after.step + 1)
            return Outcome(after, [*said, *self._current(after)])
        outcome = self._red_flags_in_text(after, {key}, None, plan, now)
        shown = outcome.snapshot
        if (
            shown.state == self.result_state
            and shown.result
            and Urgency(shown.result["urgency"]).is_escalation
        ):
            # The advice stands on its own; the remaining questions would only delay it.
            calm = {name: value for name, value in shown.context.items() if name != CONFIRM}
            outcome = replace(outcome, snapshot=replace(shown, context=calm))
        return replace(outcome, replies=[*said, *outcome.replies])

    def _no_question(self, snapshot: Snapshot, text: str) -> Outcome:
        """Typed text when no question is open: after "Not now", after a result, or before any check."""
        word = text.strip().casefold().strip(".!? ")
        lexicon = self.content.lexicon
        if snapshot.result is None and understanding.parse_yes_no(text, lexicon, weak=True) is True:
            return self._begin(snapshot, [])  # "ok", "yes, let's go" after "Not now": start the check
        if word in {item.casefold() for item in self.messages.lines("bot.thanks_words")}:
            return Outcome(snapshot, [self.present.info("bot.you_are_welcome")])
        key = "bot.no_check_yet_typed" if snapshot.result is None else "bot.after_result_typed"
        return Outcome(snapshot, [self.present.info(key)])

    def _red_flags_in_text(
        self,
        base: Snapshot,
        flags: set[str],
        answered: Outcome | None,
        plan: Plan | None,
        now: datetime,
        noted: Sequence[str] = (),
    ) -> Outcome:
        """Warning signs read for sure in typed text: added, said back, and acted on.

        `noted` is what the text was understood as ("about 3 weeks", "numb when wiping"),
        said in one line before what follows.
        """
        answers = dict(base.answers)
        answers.update({key: True for key in flags})
        after = triage(answers, self.content)
        items = list(noted) or [self.present.flag_label(key) for key in self._flag_order if key in flags]
        line = self.present.info("bot.flag_noted", items=self.present.join(items))
        # Repeating urgent advice is harmless; missing it is not, so any text that
        # reaches URGENT shows the result, even if it was shown before.
        new_check = base.check_id is None
        if after.urgency.is_escalation:
            updated = replace(base, answers=answers, pending=())
            # The advice comes first and names the signs itself; no separate line before it.
            return self._finish(updated, plan, now, new_check=new_check)
        if base.state is None or base.state == self.result_state or new_check or base.flow != MAIN_FLOW:
            # Nothing urgent and no check running: note it, point to a new check.
            said = [line, *self._current(base)]
            return Outcome(base, said) if answered is None else replace(answered, replies=said)
        updated = replace(base, answers=answers)
        if answered is not None:
            return replace(answered, snapshot=updated, replies=[line, *answered.replies])
        return Outcome(updated, [line, *self._current(updated)])

    def _parse_text(
        self, question: Question, text: str, snapshot: Snapshot, findings: understanding.Findings
    ) -> Any:
        lexicon = self.content.lexicon
        if question.type == "yes_no":
            # "ok" counts as yes only where yes is the safer reading (starting, a warning-sign screen)
            weak = question.id == "consent" or question.unsure == "as_yes"
            return understanding.parse_yes_no(text, lexicon, weak=weak)
        if question.type == "number":
            value = understanding.parse_pain_score(text, lexicon)
            if value is None and text.strip().isdecimal():
                return None
            return value
        if question.type == "free_text":
            if text.strip().casefold() == self.messages.text("common.skip").casefold():
                return ""
            if self._nothing_to_add(text, findings):
                return ""  # "no thanks" is the Skip button in words, not something to hand over
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
        return self._parse_single_choice(question, text, snapshot, findings)

    def _parse_single_choice(
        self, question: Question, text: str, snapshot: Snapshot, findings: understanding.Findings
    ) -> Any:
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
            sex = lexicon.sex_codes.get(bare) or findings.sex
            if sex is not None:
                return ("value", sex)
        if question.parser == "timezone":
            zone = _first_span(text, lambda part: parse_zone(part, self.content.zone_aliases))
            return ("value", zone.zone) if zone is not None else None
        if question.parser == "time":
            words = self.content.zone_aliases.words
            time = _first_span(text, lambda part: LocalTime.parse(part, words))
            if time is None or _quiet_hours(snapshot, self.content).contains(time):
                return None
            return ("value", str(time))
        if question.parser == "quiet_hours":
            return _parse_quiet_hours(text, self.content)
        lowered = stripped.casefold()
        for option in question.options:
            if self.messages.text(option.label_key).casefold() == lowered:
                return option.id
        chosen = understanding.parse_option(text, question.id, lexicon)
        return chosen if chosen is not None and question.option(chosen) is not None else None

    # ------------------------------------------------------------ buttons

    def _press(self, snapshot: Snapshot, data: str, plan: Plan | None, now: datetime) -> Outcome:
        if data.startswith(LANGUAGE_BUTTON):
            return self._choose_language(snapshot, data.removeprefix(LANGUAGE_BUTTON))
        match = _BUTTON_DATA.match(data or "")
        if match is None:
            return Outcome(snapshot, [], rejected="malformed button data")
        step, token = int(match.group(1)), match.group(2)
        if step != snapshot.step:
            if step > snapshot.step:
                return Outcome(snapshot, [], rejected="button from the future")
            return Outcome(snapshot, [self.present.info("bot.stale_button"), *self._current(snapshot)])
        if token in ("new", "routine", "rem") and snapshot.state != self.result_state:
            return Outcome(snapshot, [], rejected=f"{token!r} is only offered with a result")
        if token == "new":
            return self._begin(snapshot, [])
        if token == "rem":
            if not (self.offer_reminders and plan is not None and plan.state.sends_reminders):
                return Outcome(snapshot, [], rejected="reminders were not offered here")
            return self._begin_setup(snapshot, plan, "reminders", "timezone")
        if token == "routine":
            return Outcome(snapshot, self._routine_replies(snapshot, plan))
        if token == "review":
            return self._begin_review(snapshot, plan)
        if token == "steps":
            routine = plan_routine(plan, self.content)
            if routine is None:
                return Outcome(snapshot, self._routine_replies(snapshot, plan))
            return Outcome(snapshot, self.present.steps(routine))
        if token.startswith(("up", "dn")):
            return self._change_level(snapshot, plan, token.startswith("up"), int(token[2:]), now)
        if token in ("cy", "cn", "cu"):
            if not snapshot.context.get(CONFIRM):
                return Outcome(snapshot, [], rejected="no warning sign is being asked about")
            return self._confirmed(snapshot, token[1], plan, now)
        if snapshot.context.get(CONFIRM):
            return Outcome(snapshot, [], rejected="a warning sign is being asked about first")
        if token == "back":
            return self._back(snapshot)
        question = self._question(snapshot)
        if question is None:
            return Outcome(snapshot, [], rejected="button for no question")
        return self._press_answer(snapshot, question, token, plan, now)

    def _press_answer(
        self, snapshot: Snapshot, question: Question, token: str, plan: Plan | None, now: datetime
    ) -> Outcome:
        kind = question.type
        if kind == "yes_no" and token in ("y", "n"):
            return self._apply(snapshot, question, token == "y", plan, now)
        if kind == "yes_no" and token == "u" and question.unsure is not None:
            # "Not sure" is handled as safely as the answer that raises: a red-flag screen
            # goes on to its list, "has anyone checked it?" counts as not yet.
            as_yes = question.unsure == "as_yes"
            applied = self._apply(snapshot, question, as_yes, plan, now, unsure=True)
            note = self.present.info(f"bot.unsure.{question.unsure}")
            return replace(applied, replies=[note, *applied.replies])
        if kind == "number" and token.startswith("v"):
            value = _index(token)
            low, high = question.minimum, question.maximum
            if value is not None and low is not None and high is not None and low <= value <= high:
                return self._apply(snapshot, question, value, plan, now)
        if kind == "single_choice" and token.startswith("o"):
            index = _index(token)
            if index is not None and index < len(question.options):
                return self._apply(snapshot, question, question.options[index].id, plan, now)
        if kind == "free_text" and token == "skip" and question.skippable:
            return self._apply(snapshot, question, "", plan, now)
        if kind == "multi_choice":
            return self._press_multi(snapshot, question, token, plan, now)
        return Outcome(snapshot, [], rejected=f"token {token!r} does not fit question {question.id}")

    def _press_multi(
        self, snapshot: Snapshot, question: Question, token: str, plan: Plan | None, now: datetime
    ) -> Outcome:
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
            return self._apply(snapshot, question, (), plan, now)
        if token == "ok":
            if not snapshot.pending and not question.none_option:
                return Outcome(snapshot, [self.present.info("bot.choose_at_least_one")])
            return self._apply(snapshot, question, snapshot.pending, plan, now)
        return Outcome(snapshot, [], rejected=f"token {token!r} does not fit question {question.id}")

    def _select(self, snapshot: Snapshot, event: Select, plan: Plan | None, now: datetime) -> Outcome:
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
        return self._apply(snapshot, question, chosen, plan, now)

    def _choose_language(self, snapshot: Snapshot, code: str) -> Outcome:
        """A language from the /language menu: from now on every reply is in it. Nothing of
        the check changes; the question the person is on is asked again, in that language."""
        if code not in self.content.languages:
            return Outcome(snapshot, [], rejected=f"language {code!r} is not present")
        chosen = self.in_language(code)
        again = chosen._current(snapshot) if chosen._question(snapshot) is not None else []
        return Outcome(snapshot, [chosen.present.info("language.changed"), *again], language=code)

    # ------------------------------------------------------------ applying an answer

    def _apply(
        self,
        snapshot: Snapshot,
        question: Question,
        value: Any,
        plan: Plan | None,
        now: datetime,
        *,
        unsure: bool = False,
    ) -> Outcome:
        answers = dict(snapshot.answers)
        context = dict(snapshot.context)
        target = context if question.key in SETUP_KEY_SPECS else answers
        last_answer: Any = value
        given: dict[str, Any] = dict(answers.get("given") or {})
        if question.type == "yes_no":
            if question.key:
                target[question.key] = value
            if question.group:
                if value is False:  # a warning sign typed earlier in the check stays: "no" never lowers
                    group = self.content.groups[question.group]
                    answers.update({key: False for key in group if answers.get(key) is not True})
                given[question.group] = "unsure" if unsure else ("yes" if value else "no")
            elif question.key and unsure:
                given[question.id] = "unsure"
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
                group = self.content.groups[question.group]
                answers.update({key: key in chosen or answers.get(key) is True for key in group})
            elif question.key:
                target[question.key] = [option.id for option in question.options if option.id in chosen]
        else:
            if isinstance(value, tuple) and value[0] == "value":
                assert question.key is not None
                target[question.key] = value[1]
                if question.key not in SETUP_KEY_SPECS:
                    given[question.id] = {"value": value[1]}
            else:
                option = question.option(value)
                assert option is not None
                for key, chosen_value in option.sets.items():
                    (context if key in SETUP_KEY_SPECS else answers)[key] = chosen_value
                if question.key not in SETUP_KEY_SPECS:
                    given[question.id] = {"option": option.id}
        if given and question.key not in SETUP_KEY_SPECS:
            answers["given"] = given
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
            return self._finish(advanced, plan, now, new_check=False)
        if action is not None:
            return self._finish_side_flow(advanced, action, plan, now)
        advanced = replace(advanced, pending=self._preselect(advanced))
        if flow.states[model.state].final:
            stopped = replace(advanced, state=None, history=(), answers={}, check_id=None)
            return Outcome(stopped, [self.present.info("bot.declined")], cancelled=True)
        return Outcome(advanced, self._current(advanced))

    # ------------------------------------------------------------ the result and the plan

    def assess(
        self, answers: dict[str, Any], plan: Plan | None, now: datetime
    ) -> tuple[TriageResult, PlanChange, PersonalRoutine | None]:
        """Triage the answers, apply the result to the plan, and what the plan then offers.

        The one path from answers to a routine: the conversation's result, a check-in's
        warning sign and `psoasbot assess` all go through it, so they cannot disagree.
        """
        result = triage(answers, self.content)
        withdrawn = plan is not None and plan.state is not PlanState.ENDED and plan.ball_withdrawn
        plan_tags = (
            plan.forbidden_tags if plan is not None and plan.state is not PlanState.ENDED else frozenset()
        )
        excluded = result.forbidden_tags | plan_tags | ({"abdominal_pressure"} if withdrawn else set())
        ball_for_match = result.ball_release_allowed and "abdominal_pressure" not in excluded
        matched = match_routine(answers, result.urgency, ball_for_match, self.content)
        pain = answers.get("pain_now")
        assessed = Assessed(
            urgency=result.urgency,
            reasons=result.reasons,
            forbidden_tags=result.forbidden_tags,
            ball_allowed=result.ball_release_allowed,
            pain_now=pain if isinstance(pain, int) else None,
        )
        change = self.plan_rules.assessed(plan, assessed, matched, now)
        routine = plan_routine(change.plan, self.content) if result.offers_routine else None
        return result, change, routine

    def _finish(self, snapshot: Snapshot, plan: Plan | None, now: datetime, *, new_check: bool) -> Outcome:
        """Show the result: triage, reasons, what to do, and the routine the plan now allows."""
        answers = snapshot.answers
        result, change, routine = self.assess(answers, plan, now)
        new_plan = change.plan
        step = snapshot.step + 1
        stored = {
            "urgency": result.urgency.value,
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
        paused = new_plan is not None and new_plan.state is PlanState.PAUSED and result.offers_routine
        replies = self.present.result(
            result,
            answers,
            routine,
            step,
            offer_reminders=self.offer_reminders and routine is not None and not paused,
            eased=new_plan is not None and new_plan.state is PlanState.EASED and routine is not None,
            paused_note=self.present.paused_note(step) if paused else None,
        )
        return Outcome(
            finished,
            replies,
            new_check=new_check,
            assessment=result,
            routine_id=routine.id if routine else None,
            plan_change=change if change.event is not None else None,
        )

    def _routine_replies(self, snapshot: Snapshot, plan: Plan | None) -> list[Reply]:
        if plan is None:
            return [self.present.info("routine_view.none_yet")]
        if plan.state is PlanState.PAUSED:
            return self._pause_advice(plan, snapshot)
        routine = plan_routine(plan, self.content)
        if routine is None:
            return [self.present.info("routine_view.none_yet")]
        eased = plan.state is PlanState.EASED
        guided = self.offer_reminders and plan.state.sends_reminders
        return [self.present.routine(routine, step=snapshot.step, eased=eased, guided=guided)]

    def _pause_advice(self, plan: Plan, snapshot: Snapshot) -> list[Reply]:
        """While paused for review: the advice again, no exercise, and the way back."""
        pause = plan.paused_for
        if pause is None:
            return [self.present.pause_advice(Urgency.URGENT, (), "result", snapshot.step)]
        return [self.present.pause_advice(pause.urgency, pause.reasons, pause.source, snapshot.step)]

    def _change_level(
        self, snapshot: Snapshot, plan: Plan | None, up: bool, from_level: int, now: datetime
    ) -> Outcome:
        """The person asked for the next step of their routine, or to go back one. The button
        names the level it was shown at, so a second tap on it (or an old one) changes nothing."""
        routine = plan_routine(plan, self.content)
        if plan is None or routine is None:
            return Outcome(snapshot, self._routine_replies(snapshot, plan))
        if plan.level != from_level:
            return Outcome(
                snapshot, [self.present.info("plan.already_noted"), *self._routine_replies(snapshot, plan)]
            )
        if up:
            if not routine.has_next_level:
                return Outcome(snapshot, [self.present.info("routine_view.top_level")])
            change = self.plan_rules.progressed(
                plan, routine.routine.level_count, ("asked",), plan.reference_pain, now
            )
        else:
            change = self.plan_rules.regressed(plan, now)
        if change.event is None or change.plan is None:
            return Outcome(snapshot, self._routine_replies(snapshot, plan))
        key = "routine_view.stepped_up" if up else "routine_view.stepped_down"
        return Outcome(
            snapshot,
            [self.present.info(key), *self._routine_replies(snapshot, change.plan)],
            plan_change=change,
        )


def _lasting(context: dict[str, Any]) -> dict[str, Any]:
    """The part of the context that outlives a flow: the user's time zone and quiet hours."""
    return {key: value for key, value in context.items() if key in ("timezone", "quiet")}


def _quiet_hours(snapshot: Snapshot, content: Content) -> QuietHours:
    stored = snapshot.context.get("quiet")
    if isinstance(stored, list) and len(stored) == 2:
        start, end = LocalTime.parse(str(stored[0])), LocalTime.parse(str(stored[1]))
        if start is not None and end is not None:
            return QuietHours(start, end)
    return content.plan.quiet_hours


def _parse_quiet_hours(text: str, content: Content) -> tuple[str, str] | None:
    """ "22-7", "10pm to 8am", "23:00 - 07:30" -> ("value", "HH:MM-HH:MM"), as a typed answer."""
    found = parse_time_range(text, content.zone_aliases.words)
    if found is None:
        return None
    start, end = found
    return ("value", f"{start}-{end}")


def _index(token: str) -> int | None:
    digits = token[1:]
    return int(digits) if digits.isdecimal() else None


_SPAN_WORDS = 6
"""The longest run of words tried as a time or a place inside a longer reply: six hold
"7 y media de la tarde", so its evening is not lost to a shorter "7 y media"."""


def _first_span(text: str, read: Callable[[str], _T | None]) -> _T | None:
    """What `read` understands in the whole reply, else in its longest run of up to a few
    words, first from the left ("7pm please" -> "7pm", "I live in Hamburg" -> "Hamburg")."""
    found = read(text)
    if found is not None:
        return found
    words = [word.strip(".,!?;:()\"'") for word in text.split()]
    for size in range(min(_SPAN_WORDS, len(words)), 0, -1):
        for start in range(len(words) - size + 1):
            part = " ".join(words[start : start + size]).strip()
            if part:
                found = read(part)
                if found is not None:
                    return found
    return None
