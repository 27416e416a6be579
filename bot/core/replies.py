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
    image: str | None = None
    """The exercise whose picture goes with this reply (fronts show it above the text)."""
    timer: int | None = None
    """Seconds of a hold this reply counts down (fronts that can edit a message update it)."""

    @property
    def all_buttons(self) -> tuple[Button, ...]:
        return tuple(button for row in self.buttons for button in row)


def reply_to_dict(reply: Reply) -> dict[str, object]:
    """A reply as plain JSON-able data, for the outbox."""
    return {
        "kind": reply.kind.value,
        "text": reply.text,
        "title": reply.title,
        "buttons": [[[b.data, b.label, b.selected] for b in row] for row in reply.buttons],
        "choices": [[b.data, b.label, b.selected] for b in reply.choices],
        "edit": reply.edit,
        "multi": reply.multi,
        **({"image": reply.image} if reply.image else {}),
        **({"timer": reply.timer} if reply.timer else {}),
    }


def reply_from_dict(data: dict[str, object]) -> Reply:
    def button(raw: object) -> Button:
        assert isinstance(raw, list) and len(raw) == 3
        return Button(str(raw[0]), str(raw[1]), bool(raw[2]))

    rows = data.get("buttons") or []
    choices = data.get("choices") or []
    assert isinstance(rows, list) and isinstance(choices, list)
    title = data.get("title")
    return Reply(
        kind=ReplyKind(str(data["kind"])),
        text=str(data["text"]),
        title=str(title) if title is not None else None,
        buttons=tuple(tuple(button(raw) for raw in row) for row in rows),
        edit=bool(data.get("edit")),
        multi=bool(data.get("multi")),
        choices=tuple(button(raw) for raw in choices),
        image=str(data["image"]) if data.get("image") else None,
        timer=int(str(data["timer"])) if data.get("timer") else None,
    )
