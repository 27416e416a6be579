"""Turn questions, triage results and routines into transport-free replies.

All sentences come from the messages file; this module only arranges them.
Button data is `<step>:<token>`: the step number makes a button from an older
message recognisable as stale, and the token says which option it was.

Routines are shown short first: the overview (what to do and how much, one
safety line) fits one phone screen, and the steps of every exercise are one tap
away ("steps"), so nobody scrolls through five screens to see what today holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from bot.core.content import Content, Exercise, Question
from bot.core.plan.buttons import PlanButton
from bot.core.policy import Urgency
from bot.core.replies import Button, Reply, ReplyKind
from bot.core.routines import PersonalRoutine
from bot.core.triage import TriageResult

PSOAS_AREAS = frozenset({"lower_back", "hip_front", "groin", "front_thigh"})
LANGUAGE_BUTTON = "lang:"
"""Data of a /language button: the prefix and the language's code. Not tied to a step: a
language can be chosen from any menu shown, at any point."""


def button_data(step: int, token: str) -> str:
    return f"{step}:{token}"


class Presenter:
    """Builds replies in one language."""

    def __init__(self, content: Content) -> None:
        self.content = content
        self.messages = content.messages

    # ------------------------------------------------------------ questions

    def question(
        self,
        question: Question,
        step: int,
        *,
        selected: Sequence[str] = (),
        can_go_back: bool = True,
        edit: bool = False,
        prefix: str | None = None,
    ) -> Reply:
        text = self.messages.text(question.text_key)
        if question.group and question.type in ("yes_no", "multi_choice"):
            items = "\n".join(
                f"• {self.messages.text(f'flag.{key}')}" for key in self.content.groups[question.group]
            )
            text = f"{text}\n\n{items}"
        if prefix:
            text = f"{prefix}\n\n{text}"
        choices = self._choices(question, step, selected)
        rows: list[tuple[Button, ...]] = self._layout(question, choices)
        extra: list[Button] = []
        if question.type == "multi_choice":
            extra.append(Button(button_data(step, "ok"), self.messages.text("common.done")))
            if question.none_option:
                extra.append(Button(button_data(step, "none"), self.messages.text("common.none_of_these")))
        if question.type == "free_text" and question.skippable:
            extra.append(Button(button_data(step, "skip"), self.messages.text("common.skip")))
        if extra:
            rows.append(tuple(extra))
        if can_go_back:
            rows.append((Button(button_data(step, "back"), self.messages.text("common.back")),))
        return Reply(
            kind=ReplyKind.QUESTION,
            text=text,
            buttons=tuple(rows),
            edit=edit,
            multi=question.type == "multi_choice",
            choices=choices,
        )

    def option_label(self, question: Question, token: str) -> str:
        if token == "y":
            return self._yes_no_label(question, "yes")
        if token == "n":
            return self._yes_no_label(question, "no")
        return token

    def _yes_no_label(self, question: Question, which: str) -> str:
        specific = f"question.{question.id}.option.{which}"
        return self.messages.text(specific if self.messages.has(specific) else f"common.{which}")

    def _choices(self, question: Question, step: int, selected: Sequence[str]) -> tuple[Button, ...]:
        if question.type == "yes_no":
            buttons = [
                Button(button_data(step, "y"), self._yes_no_label(question, "yes")),
                Button(button_data(step, "n"), self._yes_no_label(question, "no")),
            ]
            if question.unsure is not None:
                buttons.append(Button(button_data(step, "u"), self.messages.text("common.not_sure")))
            return tuple(buttons)
        if question.type == "number":
            low, high = question.minimum or 0, question.maximum or 0
            return tuple(Button(button_data(step, f"v{value}"), str(value)) for value in range(low, high + 1))
        if question.type == "single_choice":
            return tuple(
                Button(button_data(step, f"o{index}"), self.messages.text(option.label_key))
                for index, option in enumerate(question.options)
            )
        if question.type == "multi_choice":
            mark = self.messages.text("common.selected_mark")
            return tuple(
                Button(
                    button_data(step, f"t{index}"),
                    f"{mark} {self.messages.text(option.label_key)}"
                    if option.id in selected
                    else self.messages.text(option.label_key),
                    selected=option.id in selected,
                )
                for index, option in enumerate(question.options)
            )
        return ()

    @staticmethod
    def _layout(question: Question, choices: tuple[Button, ...]) -> list[tuple[Button, ...]]:
        if question.type == "yes_no":
            return [choices]
        if question.type == "number":
            middle = (len(choices) + 1) // 2
            return [choices[:middle], choices[middle:]]
        if question.type == "multi_choice" and not question.group:
            return [tuple(choices[index : index + 2]) for index in range(0, len(choices), 2)]
        return [(choice,) for choice in choices]

    def hint(self, question: Question, *, unsure: bool = False) -> Reply:
        """What a typed answer to this question can look like; after "not sure", first that a
        rough answer is fine."""
        key = question.hint_key if self.messages.has(question.hint_key) else "bot.not_understood"
        text = self.messages.text(key)
        if unsure:
            text = f"{self.messages.text('bot.unsure.hint')}\n\n{text}"
        return Reply(kind=ReplyKind.HINT, text=text)

    # ------------------------------------------------------------ typed text understood

    def confirm(self, key: str, step: int) -> Reply:
        """The explicit question for a warning sign typed text touched without saying it for sure."""
        return Reply(
            kind=ReplyKind.QUESTION,
            text=self.messages.text("confirm.question", sign=self.messages.text(f"flag.{key}")),
            buttons=(
                (
                    Button(button_data(step, "cy"), self.messages.text("common.yes")),
                    Button(button_data(step, "cn"), self.messages.text("common.no")),
                    Button(button_data(step, "cu"), self.messages.text("common.not_sure")),
                ),
            ),
        )

    def flag_label(self, key: str) -> str:
        return self.messages.text(f"flag_short.{key}")

    def join(self, items: Sequence[str]) -> str:
        """ "a", "a and b", "a, b and c", in the messages' language."""
        if len(items) <= 1:
            return "".join(items)
        return self.messages.text("common.list_and", head=", ".join(items[:-1]), last=items[-1])

    def described(self, question: Question, value: object) -> list[str]:
        """A typed answer as the person will recognise it ("about 3 weeks", "6 out of 10")."""
        if question.type == "yes_no":
            return [self._yes_no_label(question, "yes" if value else "no")]
        if question.type == "number" and isinstance(value, int):
            return [self.messages.text("noted.pain", value=value)]
        if question.type == "multi_choice" and isinstance(value, tuple):
            if not value:
                return [self.messages.text("common.none_of_these")]
            labels = [
                self.messages.text(option.label_key) for option in question.options if option.id in value
            ]
            return self.messages.in_a_list(labels)
        if question.type == "single_choice":
            if isinstance(value, tuple) and len(value) == 2 and value[0] == "value":
                return [self._described_value(question, value[1])]
            option = question.option(str(value))
            if option is not None:
                return [self.messages.text(option.label_key)]
        return []

    def _described_value(self, question: Question, value: object) -> str:
        if question.parser == "duration" and isinstance(value, int | float):
            if value < 2:
                return self.messages.plural("noted.days", max(1, round(value * 7)))
            if value < 9:
                return self.messages.plural("noted.weeks", round(value))
            if value < 104:
                return self.messages.plural("noted.months", round(value / 4.345))
            return self.messages.plural("noted.years", round(value / 52.18))
        if question.parser == "age":
            return self.messages.text("noted.age", value=value)
        if question.parser == "sex":
            option = question.option_setting(value)
            return self.messages.text(option.label_key) if option else str(value)
        return str(value)

    def info(self, key: str, kind: ReplyKind = ReplyKind.INFO, **params: object) -> Reply:
        return Reply(kind=kind, text=self.messages.text(key, **params))

    def language_menu(self) -> Reply:
        """Every language present, each named in itself; the current one ticked."""
        mark = self.messages.text("common.selected_mark")
        rows = []
        for code in self.content.languages:
            name = self.content.in_language(code).messages.text("language.name")
            current = code == self.content.language
            label = f"{mark} {name}" if current else name
            rows.append((Button(f"{LANGUAGE_BUTTON}{code}", label, selected=current),))
        return Reply(kind=ReplyKind.QUESTION, text=self.messages.text("language.choose"), buttons=tuple(rows))

    # ------------------------------------------------------------ results

    def result(
        self,
        result: TriageResult,
        answers: dict[str, object],
        routine: PersonalRoutine | None,
        step: int,
        *,
        offer_reminders: bool = False,
        eased: bool = False,
        paused_note: Reply | None = None,
    ) -> list[Reply]:
        """The triage result, and the routine the plan allows when one is offered."""
        m = self.messages
        urgency = result.urgency
        parts = [m.text(f"result.intro.{urgency}"), *self._why_and_what(urgency, result.reasons, answers)]
        if urgency.is_escalation:
            parts.append(m.text("result.no_exercises"))
        if urgency is not Urgency.EMERGENCY:
            parts.append(m.text("result.safety_net"))
        if result.offers_routine and not result.ball_release_allowed and result.contraindications:
            notes = "\n".join(f"• {m.text(f'contraindication.{cid}')}" for cid in result.contraindications)
            parts.append(f"{m.text('result.ball_not_suitable')}\n{notes}")
        parts.append(m.text("result.not_a_diagnosis"))
        kind = ReplyKind.ESCALATION if urgency.is_escalation else ReplyKind.RESULT
        replies = [Reply(kind=kind, title=m.text(f"result.title.{urgency}"), text="\n\n".join(parts))]
        if paused_note is not None:
            replies.append(paused_note)
            rows: list[tuple[Button, ...]] = list(paused_note.buttons)
        else:
            if routine is not None:
                intro = m.text("result.routine_offer_eased" if eased else "result.routine_offer")
                replies.append(self.routine(routine, intro=intro, step=step, eased=eased, with_levels=False))
            rows = list(replies[-1].buttons)
            if offer_reminders:
                rows.append((Button(button_data(step, "rem"), m.text("result.set_reminders")),))
        rows.append((Button(button_data(step, "new"), m.text("result.next_steps")),))
        replies[-1] = replace(replies[-1], buttons=tuple(rows))
        return replies

    def _why_and_what(
        self, urgency: Urgency, reasons: Sequence[str], answers: dict[str, object]
    ) -> list[str]:
        """The red-flag reasons at this urgency and what to do, or why self-care fits."""
        m = self.messages
        top = [rule for rule in self.content.red_flags if rule.id in reasons and rule.urgency == urgency]
        if not top:
            lines = "\n".join(f"• {line}" for line in self.self_care_reasons(answers))
            return [f"{m.text('result.why')}\n{lines}"]
        why = "\n".join(f"• {m.text(f'red_flag.{rule.id}.reason')}" for rule in top)
        actions: list[str] = []
        for rule in top:
            action = m.text(f"red_flag.{rule.id}.action")
            if action not in actions:
                actions.append(action)
        return [
            f"{m.text('result.why')}\n{why}",
            f"{m.text('result.what_to_do')}\n" + "\n".join(f"• {a}" for a in actions),
        ]

    def self_care_reasons(self, answers: dict[str, object]) -> list[str]:
        m = self.messages
        lines = [m.text("result.pattern.no_warning_signs")]
        if answers.get("worse_when_sitting") or answers.get("worse_rising_from_chair"):
            lines.append(m.text("result.pattern.sitting"))
        areas = set(_as_list(answers.get("pain_location"))) | set(_as_list(answers.get("radiates_to")))
        if areas & PSOAS_AREAS:
            lines.append(m.text("result.pattern.areas"))
        return lines

    def paused_note(self, step: int) -> Reply:
        """Under a new result while an earlier pause for review still holds: no routine yet."""
        m = self.messages
        return Reply(
            kind=ReplyKind.INFO,
            text=m.text("plan.still_paused"),
            buttons=((Button(button_data(step, "review"), m.text("plan.button.checked")),),),
        )

    def pause_advice(self, urgency: Urgency, reasons: Sequence[str], source: str, step: int) -> Reply:
        """/routine while the plan is paused for review: why, what to do, no exercise."""
        m = self.messages
        if source == "referral":
            lines = [
                m.text(f"checkin_rule.{reason}") for reason in reasons if m.has(f"checkin_rule.{reason}")
            ]
            parts = [m.text("plan.paused_referral")]
            if lines:
                parts.append(f"{m.text('result.why')}\n" + "\n".join(f"• {line}" for line in lines))
        else:
            parts = [m.text("plan.paused_result"), *self._why_and_what(urgency, reasons, {})]
        parts.append(m.text("result.no_exercises"))
        return Reply(
            kind=ReplyKind.ESCALATION,
            title=m.text("plan.paused_title"),
            text="\n\n".join(parts),
            buttons=((Button(button_data(step, "review"), m.text("plan.button.checked")),),),
        )

    # ------------------------------------------------------------ routines

    def routine(
        self,
        routine: PersonalRoutine,
        intro: str | None = None,
        *,
        step: int | None = None,
        eased: bool = False,
        with_levels: bool = True,
        guided: bool = False,
    ) -> Reply:
        """The overview: what to do and how much, one safety line; the steps a tap away, and
        (`guided`, where the front runs plans) a session to start, one exercise at a time."""
        m = self.messages
        rid = routine.id
        lines = [
            f"{number}. {m.text(f'exercise.{exercise.id}.name')}: {self.dose(exercise)}"
            for number, exercise in enumerate(routine.exercises, start=1)
        ]
        parts = [part for part in (intro, m.text(f"routine.{rid}.summary")) if part]
        if eased:
            parts.append(m.text("routine_view.eased_note"))
        if routine.level > 0:
            parts.append(m.text(f"routine.{rid}.level.{routine.level}"))
        parts.append(self.cadence(routine) + "\n" + "\n".join(lines))
        if routine.left_out:
            left = []
            for item in routine.left_out:
                reasons = ", ".join(m.text(f"tag.{tag}") for tag in item.tags)
                left.append(f"• {m.text(f'exercise.{item.exercise_id}.name')} ({reasons})")
            parts.append(m.text("routine_view.left_out") + "\n" + "\n".join(left))
        parts.append(f"⚠️ {m.text(f'routine.{rid}.safety_line')}")
        rows: list[tuple[Button, ...]] = []
        if guided:
            start = PlanButton("u", 0, "s").encode()
            rows.append((Button(start, m.text("routine_view.button.start")),))
        if step is not None:
            rows.append((Button(button_data(step, "steps"), m.text("routine_view.button.steps")),))
            if with_levels and routine.has_next_level:
                up = button_data(step, f"up{routine.level}")
                rows.append((Button(up, m.text("routine_view.button.next_step")),))
            if with_levels and routine.level > 0:
                down = button_data(step, f"dn{routine.level}")
                rows.append((Button(down, m.text("routine_view.button.easier")),))
        return Reply(
            kind=ReplyKind.ROUTINE,
            title=m.text("routine_view.heading", name=m.text(f"routine.{rid}.name")),
            text="\n\n".join(parts),
            buttons=tuple(rows),
        )

    def steps(self, routine: PersonalRoutine) -> list[Reply]:
        """Every exercise with its picture, how to do it, what to feel and when to stop; then
        all the routine's safety notes."""
        m = self.messages
        rid = routine.id
        total = len(routine.exercises)
        replies = [
            Reply(
                kind=ReplyKind.ROUTINE,
                title=m.text(
                    "routine_view.exercise_heading", number=number, total=total, name=self.name(exercise)
                ),
                text=self.how_to(exercise),
                image=exercise.id,
            )
            for number, exercise in enumerate(routine.exercises, start=1)
        ]
        safety = "\n".join(f"• {line}" for line in m.lines(f"routine.{rid}.safety"))
        title = m.text("routine_view.safety_heading_for", name=m.text(f"routine.{rid}.name"))
        replies.append(Reply(kind=ReplyKind.ROUTINE, title=title, text=safety))
        return replies

    def name(self, exercise: Exercise) -> str:
        return self.messages.text(f"exercise.{exercise.id}.name")

    def how_to(self, exercise: Exercise) -> str:
        """The dose, the numbered steps, what to feel and when to stop: one exercise's card."""
        m = self.messages
        steps = "\n".join(
            f"{index}. {step}" for index, step in enumerate(m.lines(f"exercise.{exercise.id}.steps"), 1)
        )
        return (
            f"{self.dose(exercise)}\n\n{steps}\n\n"
            f"{m.text('exercise_labels.feel')} {m.text(f'exercise.{exercise.id}.feel')}\n"
            f"{m.text('exercise_labels.stop')} {m.text(f'exercise.{exercise.id}.stop')}"
        )

    def cadence(self, routine: PersonalRoutine) -> str:
        m = self.messages
        per_week = m.plural("routine_view.sessions_per_week", routine.routine.sessions_per_week)
        return m.text("routine_view.minutes_and_cadence", minutes=routine.routine.minutes, how_often=per_week)

    def reminder_card(self, routine: PersonalRoutine) -> Reply:
        """What a reminder carries: the exercises first, one safety line, the rest a tap away.

        The whole routine with every step runs past Telegram's 4,096 characters; a
        reminder that arrived as two messages would break the one-message-per-second-
        per-chat pacing, so the steps and the full safety notes are one tap away.
        """
        m = self.messages
        rid = routine.id
        lines = [
            f"{number}. {m.text(f'exercise.{exercise.id}.name')}: {self.dose(exercise)}"
            for number, exercise in enumerate(routine.exercises, start=1)
        ]
        parts = [
            m.text("plan.reminder_intro", minutes=routine.routine.minutes),
            "\n".join(lines),
            f"⚠️ {m.text(f'routine.{rid}.safety_line')}",
        ]
        return Reply(
            kind=ReplyKind.ROUTINE,
            title=m.text("routine_view.heading", name=m.text(f"routine.{rid}.name")),
            text="\n\n".join(parts),
        )

    def dose(self, exercise: Exercise) -> str:
        """ "hold 30 s, 3 times, each side"; "once" and "3 times" by the language's plural rules."""
        m = self.messages
        dose = exercise.dose
        parts = []
        if dose.hold_seconds:
            parts.append(m.plural("dose.hold_seconds", dose.hold_seconds))
        if dose.repetitions:
            parts.append(m.plural("dose.repetitions", dose.repetitions))
        if dose.sets:
            parts.append(m.plural("dose.sets", dose.sets))
        if dose.minutes:
            parts.append(m.plural("dose.minutes", dose.minutes))
        if dose.sides == "both":
            parts.append(m.text("dose.each_side"))
        return ", ".join(parts)


def _as_list(value: object) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list | tuple) else []
