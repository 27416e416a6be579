"""What the reader found in a message, in the vocabulary of the answer contract."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Findings:
    """What a message says.

    `flags` holds the yes/no answer keys the message affirms (True) or rules out
    (False). `uncertain` holds keys it touches without saying yes or no for sure: a
    hedge, a question, a misspelt word; the chat asks about each, and `assess`
    counts a red flag among them as a yes. `past` holds keys mentioned only as over
    and done with, which are not findings. `duration_weeks` is the current
    episode; `history_weeks` the whole history when the message gives both ("on
    and off for 6 years, this flare 9 days").
    """

    flags: dict[str, bool] = field(default_factory=dict)
    uncertain: frozenset[str] = frozenset()
    past: frozenset[str] = frozenset()
    pain_location: tuple[str, ...] = ()
    radiates_to: tuple[str, ...] = ()
    duration_weeks: float | None = None
    history_weeks: float | None = None
    pain_now: int | None = None
    age: int | None = None
    sex: str | None = None
    proxy: bool = False
    """The message is about someone the writer writes for."""

    def answers(self) -> dict[str, object]:
        """The findings as contract answers: only what was found for sure."""
        result: dict[str, object] = dict(self.flags)
        if self.pain_location:
            result["pain_location"] = list(self.pain_location)
        if self.radiates_to:
            result["radiates_to"] = list(self.radiates_to)
        if self.duration_weeks is not None:
            result["duration_weeks"] = self.duration_weeks
        if self.pain_now is not None:
            result["pain_now"] = self.pain_now
        if self.age is not None:
            result["age"] = self.age
        if self.sex is not None:
            result["sex"] = self.sex
        return result

    @property
    def affirmed(self) -> frozenset[str]:
        return frozenset(key for key, value in self.flags.items() if value)
