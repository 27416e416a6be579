"""The buttons of the plan (reminders, hurt reports, check-ins, /reminders), as typed data.

One codec writes and reads them, so a button the bot sends is always one it can
read back, and anything else (stale, forged, corrupted) is refused before it can
touch the database. All fit Telegram's 64 bytes:

  r:<session>:<action>         a reminder card: d done, z snooze, s skip, h it hurt,
                               v show the steps
  h:<session>:<action>         it hurt: e<i> which exercise, a<i> where, p<v> how much,
                               sy / sn settled or not
  c:<checkin>:<action>         a check-in: n<v> pain now, w<v> worst pain, sy / sn settled,
                               fy / fn / fu any warning signs (yes, no, not sure),
                               t<i> tick one, k done
  m:<reminder>:<action>        /reminders: p pause, r resume, x delete, t change time,
                               d change days (reminder 0: q quiet hours, e end the plan)
  g:<checkin>:<action>         the next step offered after improvement: u take it, s stay
  u:<session>:<action><i>      a guided session, at exercise i: n next, k skip, h this hurts,
                               t time the hold, x stop for now; c carry on, s start (session 0:
                               a new session the person starts from /routine)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

_PATTERN: Final = re.compile(r"^([rhcmgu]):(\d{1,12}):([a-z]{1,2})(\d{0,2})$")

ACTIONS: Final[dict[str, frozenset[str]]] = {
    "r": frozenset({"d", "z", "s", "h", "v", "g"}),
    "h": frozenset({"e", "a", "p", "sy", "sn"}),
    "c": frozenset({"n", "w", "sy", "sn", "fy", "fn", "fu", "t", "k"}),
    "m": frozenset({"p", "r", "x", "t", "d", "q", "e"}),
    "g": frozenset({"u", "s"}),
    "u": frozenset({"s", "n", "k", "h", "t", "x", "c"}),
}
"""The actions each area offers."""
_WITH_VALUE: Final[frozenset[tuple[str, str]]] = frozenset(
    {
        ("h", "e"),
        ("h", "a"),
        ("h", "p"),
        ("c", "n"),
        ("c", "w"),
        ("c", "t"),
        *(("u", action) for action in "nkhtx"),  # a guided session's buttons name the exercise's place
    }
)
"""Actions that carry a number (an index or a 0-10 score); the others carry none."""


@dataclass(frozen=True)
class PlanButton:
    area: str
    ref: int
    action: str
    value: int | None = None

    def encode(self) -> str:
        return f"{self.area}:{self.ref}:{self.action}{'' if self.value is None else self.value}"

    @classmethod
    def decode(cls, data: str) -> PlanButton | None:
        """The button `data` names, or None for anything no plan button carries."""
        found = _PATTERN.match(data or "")
        if found is None:
            return None
        area, ref, action, digits = found.groups()
        if action not in ACTIONS[area] or ((area, action) in _WITH_VALUE) != bool(digits):
            return None
        return cls(area, int(ref), action, int(digits) if digits else None)


def is_plan_button(data: str) -> bool:
    return PlanButton.decode(data) is not None
