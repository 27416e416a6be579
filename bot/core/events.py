"""What a user can do, as the core sees it, whatever the front."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Start:
    """/start: greet, and begin a check or resume the one in progress."""


@dataclass(frozen=True)
class NewCheck:
    """/check or /restart: begin a fresh check."""


@dataclass(frozen=True)
class Back:
    """Go back one question."""


@dataclass(frozen=True)
class Cancel:
    """/cancel: stop the check in progress."""


@dataclass(frozen=True)
class Help:
    """/help."""


@dataclass(frozen=True)
class ShowRoutine:
    """/routine: the routine from the latest result."""


@dataclass(frozen=True)
class Text:
    """Anything typed."""

    text: str


@dataclass(frozen=True)
class Press:
    """A button press; `data` is whatever the button carried, possibly stale or forged."""

    data: str


@dataclass(frozen=True)
class Select:
    """Several options of a multi-choice question chosen at once (the terminal's "1,3").

    `data` holds the chosen option buttons' data, exactly as the question offered them.
    """

    data: tuple[str, ...]


@dataclass(frozen=True)
class Unsupported:
    """A sticker, photo, voice note or anything else that is not text or a button."""

    kind: str


@dataclass(frozen=True)
class ChangeTimezone:
    """/timezone: ask for the time zone again."""


@dataclass(frozen=True)
class ChangeReminderTime:
    """Change the time of one reminder (from the /reminders list)."""

    reminder_id: int


@dataclass(frozen=True)
class ChangeReminderDays:
    """Change the days of one reminder (from the /reminders list)."""

    reminder_id: int


@dataclass(frozen=True)
class ChangeQuietHours:
    """Change the hours in which no reminder arrives (from the /reminders list)."""


@dataclass(frozen=True)
class ReviewPlan:
    """Restart exercises after the plan was paused for review: asks whether a professional
    has checked the person first."""


@dataclass(frozen=True)
class ChooseLanguage:
    """/language: offer the languages present, to change the one the bot writes in."""


Event = (
    Start
    | NewCheck
    | Back
    | Cancel
    | Help
    | ShowRoutine
    | Text
    | Press
    | Select
    | Unsupported
    | ChangeTimezone
    | ChangeReminderTime
    | ChangeReminderDays
    | ChangeQuietHours
    | ReviewPlan
    | ChooseLanguage
)
