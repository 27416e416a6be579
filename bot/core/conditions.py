"""Named conditions that flows/*.yaml may use on a transition.

A flow refers to a condition by name; `psoasbot validate` fails on a name that
is not here. Each condition is a pure function of the per-user model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.core.content import Content
from bot.core.triage import is_emergency


class FlowModel:
    """The light per-user model a `transitions` event runs on.

    Made from the stored conversation row for one input and dropped after it;
    `state` is what the machine reads and writes.
    """

    __slots__ = ("answers", "content", "context", "last_answer", "state")

    def __init__(
        self,
        state: str,
        answers: dict[str, Any],
        last_answer: Any,
        content: Content,
        context: dict[str, Any] | None = None,
    ) -> None:
        self.state = state
        self.answers = answers
        self.last_answer = last_answer
        self.content = content
        self.context = context or {}


def answered_yes(model: FlowModel) -> bool:
    return model.last_answer is True


def answered_no(model: FlowModel) -> bool:
    return model.last_answer is False


def emergency_found(model: FlowModel) -> bool:
    """The answers so far already call for emergency help: stop asking, tell them now."""
    return is_emergency(model.answers, model.content)


def setting_up_reminders(model: FlowModel) -> bool:
    """The set-up was entered to create reminders (not just to change the time zone)."""
    return model.context.get("purpose") == "reminders"


def changing_one_reminder(model: FlowModel) -> bool:
    return model.context.get("purpose") == "change_time"


def changing_days(model: FlowModel) -> bool:
    return model.context.get("purpose") == "change_days"


CONDITIONS: dict[str, Callable[[FlowModel], bool]] = {
    "answered_yes": answered_yes,
    "answered_no": answered_no,
    "emergency_found": emergency_found,
    "setting_up_reminders": setting_up_reminders,
    "changing_one_reminder": changing_one_reminder,
    "changing_days": changing_days,
}
