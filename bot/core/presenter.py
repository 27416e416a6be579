"""Turn questions, triage results and routines into transport-free replies.

All sentences come from the messages file; this module only arranges them.
Button data is `<step>:<token>`: the step number makes a button from an older
message recognisable as stale, and the token says which option it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from bot.core.content import Content, Exercise, Question
from bot.core.replies import Button, Reply, ReplyKind
from bot.core.routines import PersonalRoutine
from bot.core.triage import TriageResult

PSOAS_AREAS = frozenset({"lower_back", "hip_front", "groin", "front_thigh"})


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
        if question.type == "yes_no" and question.group:
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
            return (
                Button(button_data(step, "y"), self._yes_no_label(question, "yes")),
                Button(button_data(step, "n"), self._yes_no_label(question, "no")),
            )
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
        if question.type == "multi_choice":
            return [tuple(choices[index : index + 2]) for index in range(0, len(choices), 2)]
        return [(choice,) for choice in choices]

    def hint(self, question: Question) -> Reply:
        key = question.hint_key if self.messages.has(question.hint_key) else "bot.not_understood"
        return Reply(kind=ReplyKind.HINT, text=self.messages.text(key))

    def info(self, key: str, kind: ReplyKind = ReplyKind.INFO, **params: object) -> Reply:
        return Reply(kind=kind, text=self.messages.text(key, **params))

    # ------------------------------------------------------------ results

    def result(
        self,
        result: TriageResult,
        answers: dict[str, object],
        routine: PersonalRoutine | None,
        step: int,
        *,
        offer_reminders: bool = False,
    ) -> list[Reply]:
        """The triage result, and the routine when one is offered."""
        m = self.messages
        urgency = result.urgency
        top = [
            rule for rule in self.content.red_flags if rule.id in result.reasons and rule.urgency == urgency
        ]
        parts = [m.text(f"result.intro.{urgency}")]
        if top:
            why = "\n".join(f"• {m.text(f'red_flag.{rule.id}.reason')}" for rule in top)
            actions: list[str] = []
            for rule in top:
                action = m.text(f"red_flag.{rule.id}.action")
                if action not in actions:
                    actions.append(action)
            parts.append(f"{m.text('result.why')}\n{why}")
            parts.append(f"{m.text('result.what_to_do')}\n" + "\n".join(f"• {a}" for a in actions))
        else:
            parts.append(
                f"{m.text('result.why')}\n"
                + "\n".join(f"• {line}" for line in self._self_care_reasons(answers))
            )
        if urgency in ("EMERGENCY", "URGENT"):
            parts.append(m.text("result.no_exercises"))
        if urgency != "EMERGENCY":
            parts.append(m.text("result.safety_net"))
        if result.offers_routine and not result.ball_release_allowed and result.contraindications:
            notes = "\n".join(f"• {m.text(f'contraindication.{cid}')}" for cid in result.contraindications)
            parts.append(f"{m.text('result.ball_not_suitable')}\n{notes}")
        parts.append(m.text("result.not_a_diagnosis"))
        kind = ReplyKind.ESCALATION if urgency in ("EMERGENCY", "URGENT") else ReplyKind.RESULT
        replies = [Reply(kind=kind, title=m.text(f"result.title.{urgency}"), text="\n\n".join(parts))]
        if routine is not None:
            replies.append(self.routine(routine, intro=m.text("result.routine_offer")))
        rows: list[tuple[Button, ...]] = []
        if offer_reminders:
            rows.append((Button(button_data(step, "rem"), m.text("result.set_reminders")),))
        rows.append((Button(button_data(step, "new"), m.text("result.next_steps")),))
        replies[-1] = replace(replies[-1], buttons=tuple(rows))
        return replies

    def _self_care_reasons(self, answers: dict[str, object]) -> list[str]:
        m = self.messages
        lines = [m.text("result.pattern.no_warning_signs")]
        if answers.get("worse_when_sitting") or answers.get("worse_rising_from_chair"):
            lines.append(m.text("result.pattern.sitting"))
        areas = set(_as_list(answers.get("pain_location"))) | set(_as_list(answers.get("radiates_to")))
        if areas & PSOAS_AREAS:
            lines.append(m.text("result.pattern.areas"))
        return lines

    # ------------------------------------------------------------ routines

    def routine(self, routine: PersonalRoutine, intro: str | None = None) -> Reply:
        m = self.messages
        rid = routine.id
        header = m.text(
            "routine_view.minutes_and_cadence",
            minutes=routine.routine.minutes,
            sessions=routine.routine.sessions_per_week,
        )
        parts = [part for part in (intro, m.text(f"routine.{rid}.summary"), header) if part]
        for number, exercise in enumerate(routine.exercises, start=1):
            parts.append(self.exercise(exercise, number))
        if routine.left_out:
            lines = []
            for item in routine.left_out:
                reasons = ", ".join(m.text(f"tag.{tag}") for tag in item.tags)
                lines.append(f"• {m.text(f'exercise.{item.exercise_id}.name')} ({reasons})")
            parts.append(m.text("routine_view.left_out") + "\n" + "\n".join(lines))
        safety = "\n".join(f"• {line}" for line in m.lines(f"routine.{rid}.safety"))
        parts.append(f"{m.text('routine_view.safety_heading')}\n{safety}")
        return Reply(
            kind=ReplyKind.ROUTINE,
            title=m.text("routine_view.heading", name=m.text(f"routine.{rid}.name")),
            text="\n\n".join(parts),
        )

    def reminder_card(self, routine: PersonalRoutine) -> Reply:
        """The short form a reminder carries: what to do and how much, plus the safety notes.

        The full routine (every step of every exercise) runs past Telegram's 4,096
        characters, which would make each reminder two messages and break the
        one-message-per-second-per-chat pacing; the steps are one tap away instead.
        The safety notes stay on the card because they must never be a tap away.
        """
        m = self.messages
        rid = routine.id
        lines = [
            f"{number}. {m.text(f'exercise.{exercise.id}.name')} — {self.dose(exercise)}"
            for number, exercise in enumerate(routine.exercises, start=1)
        ]
        safety = "\n".join(f"• {line}" for line in m.lines(f"routine.{rid}.safety"))
        parts = [
            m.text("plan.reminder_intro", minutes=routine.routine.minutes),
            "\n".join(lines),
            f"{m.text('routine_view.safety_heading')}\n{safety}",
            m.text("plan.reminder_steps_hint"),
        ]
        return Reply(
            kind=ReplyKind.ROUTINE,
            title=m.text("routine_view.heading", name=m.text(f"routine.{rid}.name")),
            text="\n\n".join(parts),
        )

    def exercise(self, exercise: Exercise, number: int) -> str:
        m = self.messages
        steps = "\n".join(
            f"  {index}. {step}" for index, step in enumerate(m.lines(f"exercise.{exercise.id}.steps"), 1)
        )
        return (
            f"{number}. {m.text(f'exercise.{exercise.id}.name')} — {self.dose(exercise)}\n"
            f"{steps}\n"
            f"  {m.text('exercise_labels.how_often')} {m.text(f'frequency.{exercise.frequency}')}\n"
            f"  {m.text('exercise_labels.feel')} {m.text(f'exercise.{exercise.id}.feel')}\n"
            f"  {m.text('exercise_labels.stop')} {m.text(f'exercise.{exercise.id}.stop')}"
        )

    def dose(self, exercise: Exercise) -> str:
        m = self.messages
        dose = exercise.dose
        parts = []
        if dose.hold_seconds:
            parts.append(m.text("dose.hold_seconds", seconds=dose.hold_seconds))
        if dose.repetitions:
            parts.append(m.text("dose.repetitions", count=dose.repetitions))
        if dose.sets:
            parts.append(m.text("dose.sets", count=dose.sets))
        if dose.minutes:
            parts.append(m.text("dose.minutes", minutes=dose.minutes))
        if dose.sides == "both":
            parts.append(m.text("dose.each_side"))
        return ", ".join(parts)


def _as_list(value: object) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list | tuple) else []
