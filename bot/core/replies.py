"""What the core says back: transport-free replies that every front renders.

A Reply carries plain text (fronts escape it for their own markup), an optional
title that fronts make stand out, and buttons as (data, label) pairs. The
terminal numbers the buttons; Telegram turns them into an inline keyboard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class ReplyKind(StrEnum):
    QUESTION = "question"
    INFO = "info"
    HINT = "hint"
    RESULT = "result"
    ESCALATION = "escalation"
    ROUTINE = "routine"


@dataclass(frozen=True)
class Button:
    """One button. `data` goes back to the core exactly as given (at most 64 bytes)."""

    data: str
    label: str
    selected: bool = False


@dataclass(frozen=True)
class Reply:
    kind: ReplyKind
    text: str
    title: str | None = None
    buttons: tuple[tuple[Button, ...], ...] = ()
    edit: bool = False
    """True when this replaces the question the user is answering (a multi-choice toggle)."""
    multi: bool = False
    """True for a multi-choice question: several options may be chosen before Done."""
    choices: tuple[Button, ...] = field(default=())
    """The answer options alone (without Back/Done), for fronts that number them."""

    @property
    def all_buttons(self) -> tuple[Button, ...]:
        return tuple(button for row in self.buttons for button in row)
