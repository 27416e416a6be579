"""Urgency, and every rule that depends on it, in one place.

Triage gives one of four urgencies. What each one means for the rest of the bot
(is a routine offered? may ball release be offered? does the plan pause? is the
result an escalation with a bold headline?) is answered here and nowhere else, so
no screen can disagree with another about what an urgency allows.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Final


class Urgency(StrEnum):
    """The levels triage can give, least urgent first (the values are the content ids)."""

    SELF_CARE = "SELF_CARE"
    ROUTINE = "ROUTINE"
    URGENT = "URGENT"
    EMERGENCY = "EMERGENCY"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def at_least(self, other: Urgency) -> bool:
        return self.rank >= other.rank

    @property
    def offers_routine(self) -> bool:
        """SELF_CARE and ROUTINE offer a routine (ROUTINE a gentle one while the person waits)."""
        return self.rank <= Urgency.ROUTINE.rank

    @property
    def allows_ball_release(self) -> bool:
        """Ball or hand pressure on the belly is only ever offered for self-care."""
        return self is Urgency.SELF_CARE

    @property
    def pauses_plan(self) -> bool:
        """URGENT and EMERGENCY: no exercise of any kind until a professional has checked."""
        return self.rank >= Urgency.URGENT.rank

    @property
    def is_escalation(self) -> bool:
        """Shown with a bold headline, never behind a button; typed text reaching it ends the check."""
        return self.rank >= Urgency.URGENT.rank

    @property
    def ends_check_at_once(self) -> bool:
        """Answers reaching EMERGENCY stop the questions at once (at URGENT the few remaining
        questions still run, because they can only raise the urgency)."""
        return self is Urgency.EMERGENCY

    @classmethod
    def most_urgent(cls, urgencies: Iterable[Urgency]) -> Urgency:
        return max(urgencies, key=lambda urgency: urgency.rank, default=cls.SELF_CARE)


_RANK: Final[dict[Urgency, int]] = {urgency: rank for rank, urgency in enumerate(Urgency)}
URGENCIES: Final[tuple[str, ...]] = tuple(urgency.value for urgency in Urgency)
