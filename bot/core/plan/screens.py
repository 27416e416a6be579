"""What the plan shows: reminder cards, hurt reports, check-ins, the reminder list.

Pure builders of transport-free replies; every sentence comes from the messages
file and every button from the plan button codec (bot/core/plan/buttons.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from bot.core.answers import AREAS
from bot.core.clock import LocalTime
from bot.core.content import Content, Exercise
from bot.core.plan.buttons import PlanButton
from bot.core.plan.model import Plan, PlanState
from bot.core.presenter import Presenter
from bot.core.records import Guide, Reminder
from bot.core.replies import Button, Reply, ReplyKind
from bot.core.routines import PersonalRoutine

FLAG_GROUPS = ("emergency_signs", "serious_signs")
"""The warning-sign screens of the weekly check-in, in order (the first check's groups)."""


def _button(area: str, ref: int, action: str, value: int | None, label: str) -> Button:
    return Button(PlanButton(area, ref, action, value).encode(), label)


class PlanScreens:
    def __init__(self, content: Content) -> None:
        self.content = content
        self.messages = content.messages
        self.present = Presenter(content)
        self._snooze_minutes = int(content.plan.snooze.total_seconds() // 60)

    # ------------------------------------------------------------ reminders

    def session_card(self, session_id: int, routine: PersonalRoutine) -> Reply:
        """A reminder: the exercises first, one safety line, the rest a tap away."""
        card = self.present.reminder_card(routine)
        return Reply(
            ReplyKind.QUESTION, card.text, title=card.title, buttons=self._session_buttons(session_id)
        )

    def with_session(self, card: Reply, session_id: int) -> Reply:
        """A card rendered once, with the buttons of one session."""
        return replace(card, buttons=self._session_buttons(session_id))

    def _session_buttons(self, session_id: int) -> tuple[tuple[Button, ...], ...]:
        m = self.messages
        return (
            (_button("r", session_id, "g", None, m.text("plan.button.start")),),
            (
                _button("r", session_id, "d", None, m.text("plan.button.done")),
                _button(
                    "r", session_id, "z", None, m.text("plan.button.snooze", minutes=self._snooze_minutes)
                ),
            ),
            (
                _button("r", session_id, "s", None, m.text("plan.button.skip")),
                _button("r", session_id, "h", None, m.text("plan.button.hurt")),
            ),
            (_button("r", session_id, "v", None, m.text("plan.button.steps")),),
        )

    # ------------------------------------------------------------ it hurt

    def hurt_which(self, session_id: int, routine: PersonalRoutine) -> Reply:
        m = self.messages
        rows = [
            (_button("h", session_id, "e", index, m.text(f"exercise.{exercise.id}.name")),)
            for index, exercise in enumerate(routine.exercises)
        ]
        rows.append(
            (_button("h", session_id, "e", len(routine.exercises), m.text("plan.hurt_not_sure_which")),)
        )
        return Reply(ReplyKind.QUESTION, m.text("plan.hurt_which"), buttons=tuple(rows))

    def hurt_where(self, session_id: int) -> Reply:
        m = self.messages
        areas = [
            _button("h", session_id, "a", index, m.text(f"area.{area}")) for index, area in enumerate(AREAS)
        ]
        rows = tuple(tuple(areas[index : index + 2]) for index in range(0, len(areas), 2))
        return Reply(ReplyKind.QUESTION, m.text("plan.hurt_where"), buttons=rows)

    def hurt_how_much(self, session_id: int) -> Reply:
        return self._scale(self.messages.text("plan.hurt_how_much"), "h", session_id, "p")

    def hurt_settled(self, session_id: int) -> Reply:
        return self._yes_no(self.messages.text("plan.hurt_settled"), "h", session_id, "s")

    # ------------------------------------------------------------ check-ins

    def checkin_pain_now(self, checkin_id: int, kind: str) -> Reply:
        m = self.messages
        text = f"{m.text(f'plan.checkin_opening.{kind}')}\n\n{m.text('plan.checkin_pain_now')}"
        return self._scale(text, "c", checkin_id, "n")

    def checkin_pain_worst(self, checkin_id: int) -> Reply:
        return self._scale(self.messages.text("plan.checkin_pain_worst"), "c", checkin_id, "w")

    def checkin_settled(self, checkin_id: int) -> Reply:
        return self._yes_no(self.messages.text("plan.checkin_settled"), "c", checkin_id, "s")

    def flag_screen(self, checkin_id: int, group: str) -> Reply:
        """ "Since your last check, have any of these started?" with Yes / No / Not sure."""
        m = self.messages
        items = "\n".join(f"• {m.text(f'flag.{key}')}" for key in self.content.groups[group])
        text = f"{m.text(f'plan.checkin_flags.{group}')}\n\n{items}"
        buttons = (
            (
                _button("c", checkin_id, "fy", None, m.text("common.yes")),
                _button("c", checkin_id, "fn", None, m.text("common.no")),
            ),
            (_button("c", checkin_id, "fu", None, m.text("common.not_sure")),),
        )
        return Reply(ReplyKind.QUESTION, text, buttons=buttons)

    def flag_picker(self, checkin_id: int, group: str, chosen: Sequence[str], unsure: bool) -> Reply:
        m = self.messages
        mark = m.text("common.selected_mark")
        keys = self.content.groups[group]
        rows: list[tuple[Button, ...]] = [
            (
                _button(
                    "c",
                    checkin_id,
                    "t",
                    index,
                    f"{mark} {m.text(f'flag_short.{key}')}" if key in chosen else m.text(f"flag_short.{key}"),
                ),
            )
            for index, key in enumerate(keys)
        ]
        rows.append((_button("c", checkin_id, "k", None, m.text("common.done")),))
        text = m.text("plan.checkin_which_flags")
        if unsure:
            text = f"{m.text('plan.checkin_not_sure')}\n\n{text}"
        return Reply(ReplyKind.QUESTION, text, buttons=tuple(rows))

    # ------------------------------------------------------------ the next step

    def next_step_offer(self, checkin_id: int, routine: PersonalRoutine, step_text: str) -> Reply:
        m = self.messages
        buttons = (
            (_button("g", checkin_id, "u", None, m.text("plan.button.next_step")),),
            (_button("g", checkin_id, "s", None, m.text("plan.button.stay")),),
        )
        return Reply(
            ReplyKind.QUESTION,
            m.text("plan.decision.progress", next_step=step_text, name=self.routine_name(routine)),
            buttons=buttons,
        )

    def routine_name(self, routine: PersonalRoutine) -> str:
        return self.messages.text(f"routine.{routine.id}.name")

    # ------------------------------------------------------------ /reminders

    def reminder_list(
        self, plan: Plan | None, reminders: Sequence[Reminder], paused_on: datetime | None
    ) -> list[Reply]:
        m = self.messages
        replies: list[Reply] = []
        if plan is not None and plan.state is PlanState.PAUSED:
            date = m.date(paused_on.date()) if paused_on else ""
            replies.append(
                Reply(
                    ReplyKind.QUESTION,
                    m.text("plan.on_hold", date=date),
                    buttons=((self.review_button(),),),
                )
            )
        if not reminders:
            replies.append(Reply(ReplyKind.INFO, m.text("plan.no_reminders")))
            return replies
        for item in reminders:
            days = m.join(m.text(f"day.{day}") for day in item.days)
            status = m.text(f"plan.status.{item.status}")
            local = LocalTime.parse(item.local_time)
            text = m.text(
                f"plan.reminder_line.{item.kind}",
                days=days,
                time=m.time(local) if local is not None else item.local_time,
                zone=m.zone(item.timezone),
                status=status,
            )
            toggle = ("r", "plan.button.resume") if item.status == "paused" else ("p", "plan.button.pause")
            rows: list[tuple[Button, ...]] = [
                (
                    _button("m", item.id, toggle[0], None, m.text(toggle[1])),
                    _button("m", item.id, "t", None, m.text("plan.button.change_time")),
                )
            ]
            if item.kind == "session":
                rows.append((_button("m", item.id, "d", None, m.text("plan.button.change_days")),))
            rows.append((_button("m", item.id, "x", None, m.text("plan.button.delete")),))
            replies.append(Reply(ReplyKind.QUESTION, text, buttons=tuple(rows)))
        footer_rows: list[tuple[Button, ...]] = [
            (_button("m", 0, "q", None, m.text("plan.button.quiet_hours")),)
        ]
        if plan is not None and plan.state.sends_reminders:
            footer_rows.append((_button("m", 0, "e", None, m.text("plan.button.end_plan")),))
        replies.append(Reply(ReplyKind.QUESTION, m.text("plan.reminders_footer"), buttons=tuple(footer_rows)))
        return replies

    # ------------------------------------------------------------ a guided session

    def guided_step(self, session_id: int, guide: Guide, exercise: Exercise) -> Reply:
        """One exercise of a guided session: its picture, dose, steps, what to feel, and the way on."""
        m = self.messages
        place, total = guide.position, len(guide.exercises)
        rows: list[tuple[Button, ...]] = []
        hold = exercise.dose.hold_seconds
        if hold:
            rows.append((_button("u", session_id, "t", place, m.plural("guide.button.time", hold)),))
        onward = "guide.button.finish" if place + 1 == total else "guide.button.next"
        rows.append(
            (
                _button("u", session_id, "n", place, m.text(onward)),
                _button("u", session_id, "k", place, m.text("guide.button.skip")),
            )
        )
        rows.append(
            (
                _button("u", session_id, "h", place, m.text("guide.button.hurts")),
                _button("u", session_id, "x", place, m.text("guide.button.stop")),
            )
        )
        title = m.text("guide.step_heading", number=place + 1, total=total, name=self.present.name(exercise))
        return Reply(
            ReplyKind.QUESTION,
            self.present.how_to(exercise),
            title=title,
            buttons=tuple(rows),
            image=exercise.id,
        )

    def guided_timer(self, seconds: int) -> Reply:
        """A hold to count down: fronts that can edit a message update it as the seconds pass."""
        return Reply(ReplyKind.INFO, self.messages.plural("guide.timer.start", seconds), timer=seconds)

    def guided_finished(self, skipped: Sequence[str]) -> Reply:
        m = self.messages
        text = m.text("guide.finished")
        if skipped:
            names = m.join(m.text(f"exercise.{exercise_id}.name") for exercise_id in skipped)
            text = f"{text}\n\n{m.text('guide.skipped', names=names)}"
        return Reply(ReplyKind.QUESTION, text)

    def guided_stopped(self, session_id: int) -> Reply:
        m = self.messages
        return Reply(
            ReplyKind.QUESTION,
            m.text("guide.stopped"),
            buttons=((_button("u", session_id, "c", None, m.text("guide.button.carry_on")),),),
        )

    def review_button(self) -> Button:
        """ "I've been checked": restarts a paused plan after asking (the front starts the question)."""
        return _button("m", 0, "r", None, self.messages.text("plan.button.checked"))

    # ------------------------------------------------------------ small parts

    def _scale(self, text: str, area: str, ref: int, action: str) -> Reply:
        values = [_button(area, ref, action, value, str(value)) for value in range(11)]
        return Reply(ReplyKind.QUESTION, text, buttons=(tuple(values[:6]), tuple(values[6:])))

    def _yes_no(self, text: str, area: str, ref: int, prefix: str) -> Reply:
        m = self.messages
        return Reply(
            ReplyKind.QUESTION,
            text,
            buttons=(
                (
                    _button(area, ref, f"{prefix}y", None, m.text("common.yes")),
                    _button(area, ref, f"{prefix}n", None, m.text("common.no")),
                ),
            ),
        )
