"""Typed answers to one question: "yes", "6/10", "about 3 weeks", "45", "my back and groin".

These read a short reply to the question on screen, where the whole message is the
answer; `understand` reads a story, where any sentence may hold anything.
"""

from __future__ import annotations

import re
from typing import Final

from bot.core.understanding.document import Document, normalise, split_sentences
from bot.core.understanding.lexicon import Lexicon
from bot.core.understanding.quantities import (
    MAX_DURATION_WEEKS,
    age_of,
    duration_candidates,
    first_valid,
    number,
    pick_pain,
    quantity_weeks,
    round_half_up,
    tidy_weeks,
)

_EDGE_PUNCTUATION: Final = re.compile(r"^[\s\"'(\[{.,;:!?*_~-]+|[\s\"')\]}.,;:!?*_~]+$")
ANSWER_CHARS: Final[int] = 1000
"""A reply to one question longer than this is a story, not an answer; `understand` reads it."""


def document(text: str, lexicon: Lexicon) -> Document:
    return split_sentences(normalise(text, lexicon), lexicon)


def _short(text: str, lexicon: Lexicon) -> str:
    return _EDGE_PUNCTUATION.sub("", normalise(text, lexicon))


def parse_option(text: str, question_id: str, lexicon: Lexicon) -> str | None:
    """The option a typed reply chooses ("I work at a desk all day" -> mostly_sitting), if any."""
    if not isinstance(text, str) or len(text) > ANSWER_CHARS:
        return None
    answer = normalise(text, lexicon)
    for option_id, phrases in lexicon.answer_options.get(question_id, ()):
        if phrases.search(answer):
            return option_id
    return None


def parse_unsure(text: str, lexicon: Lexicon) -> bool:
    """Does a short reply say "not sure" ("dunno", "no idea", "can't tell")?"""
    if not isinstance(text, str) or len(text) > ANSWER_CHARS:
        return False
    answer = " ".join(_short(text, lexicon).replace("-", " ").split())
    return any(
        answer == phrase or (answer.startswith(phrase) and not answer[len(phrase)].isalnum())
        for phrase in lexicon.yes_no.unsure
    )


def parse_yes_no(text: str, lexicon: Lexicon, *, weak: bool = False) -> bool | None:
    """A typed answer to a yes/no question: True, False, or None when unclear.

    With `weak`, mere agreement ("ok", "fine", "go ahead") also counts as yes: for
    questions where yes is the safer reading.
    """
    if not isinstance(text, str) or len(text) > ANSWER_CHARS:
        return None
    answer = " ".join(_short(text, lexicon).replace("-", " ").split())
    if not answer:
        return None
    vocabulary = lexicon.yes_no
    if weak and answer in vocabulary.yes_weak:
        return True

    def leads(phrase: str) -> bool:
        if not answer.startswith(phrase):
            return False
        rest = answer[len(phrase) :]
        return not rest or not (rest[0].isalnum() or rest[0] in "'")

    if any(leads(phrase) for phrase in vocabulary.unsure):
        return None
    if answer in vocabulary.yes_whole or answer in vocabulary.yes_leading:
        return True
    if answer in vocabulary.no_whole or answer in vocabulary.no_leading:
        return False
    best: tuple[int, bool] | None = None
    for phrases, value in ((vocabulary.yes_leading, True), (vocabulary.no_leading, False)):
        for phrase in phrases:
            if leads(phrase) and (best is None or len(phrase) > best[0]):
                best = (len(phrase), value)
    return None if best is None else best[1]


def parse_pain_score(text: str, lexicon: Lexicon) -> int | None:
    """A typed pain score 0-10 ("6", "6/10", "six", "about 7 out of 10"), else None."""
    if not isinstance(text, str) or len(text) > ANSWER_CHARS:
        return None
    answer = _short(text, lexicon)
    if not answer or answer.startswith("-") or text.strip().startswith(("-", "\u2212")):
        return None
    for pattern in lexicon.answer_pain:
        match = pattern.fullmatch(answer)
        if match:
            value = number(match.group("n"), lexicon)
            upper = number(match.groupdict().get("n2"), lexicon)
            if value is not None and upper is not None:
                value = max(value, upper)
            if value is None or not 0 <= value <= 10:
                return None
            return round_half_up(value)
    doc = document(text, lexicon)
    return pick_pain(doc, lexicon)


def parse_duration_weeks(text: str, lexicon: Lexicon) -> float | None:
    """A typed answer to "how long?" in weeks ("3 weeks", "10 days", "since yesterday")."""
    if not isinstance(text, str) or len(text) > ANSWER_CHARS:
        return None
    doc = document(text, lexicon)
    values = [c.weeks for c in duration_candidates(doc, lexicon) if c.weeks is not None]
    for pattern in lexicon.answer_duration:
        for match in pattern.finditer(doc.text):
            weeks = quantity_weeks(match, lexicon)
            if weeks is not None:
                values.append(weeks)
    if not values:
        return None
    weeks = max(values)
    return tidy_weeks(weeks) if 0 <= weeks <= MAX_DURATION_WEEKS else None


def parse_age(text: str, lexicon: Lexicon) -> int | None:
    """A typed age ("45", "I'm 45", "forty five"); None outside 0-120."""
    if not isinstance(text, str) or len(text) > ANSWER_CHARS:
        return None
    answer = _short(text, lexicon)
    if not answer or text.strip().startswith(("-", "\u2212")):
        return None
    for pattern in lexicon.answer_age:
        match = pattern.fullmatch(answer)
        if match:
            return age_of(match, lexicon)
    value: int | None = first_valid(lexicon.age_patterns, answer, lambda m: age_of(m, lexicon))
    return value


def parse_areas(text: str, lexicon: Lexicon) -> tuple[str, ...]:
    """Areas named in a typed answer, in order of mention, without duplicates."""
    if not isinstance(text, str) or len(text) > ANSWER_CHARS:
        return ()
    answer = normalise(text, lexicon)
    found: list[str] = []
    for match in lexicon.area_answers.finditer(answer):
        area = match.lastgroup
        if area is not None and area not in found:
            found.append(area)
    return tuple(found)
