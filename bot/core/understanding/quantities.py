"""Numbers in a message: how long it has lasted, the pain score, the age and the sex.

The duration is that of the current episode: a phrase tied to the pain ("for
about three weeks I've had an ache", "since then it has hurt") wins over
unrelated times ("my daughter was born seven weeks ago"), and a phrase about
this flare ("this flare 9 days") over the whole history ("on and off for 6
years"), which is kept apart. Ages are read in the common forms ("I'm 47",
"47m", "M/72", "61 and never had this", "in my sixties", "..., 58."), and for a
message about someone else, that person's age ("he's 78", "my son (14)").
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

from bot.core.understanding.context import Patient
from bot.core.understanding.document import Document, Span, clauses
from bot.core.understanding.lexicon import Lexicon
from bot.core.understanding.patterns import squash
from bot.core.understanding.subject import patient_sex

MIN_DURATION_WEEKS: Final[float] = 0.01
MAX_DURATION_WEEKS: Final[float] = 5200.0  # the contract's bound for duration_weeks
_ANCHOR_KINDS: Final[frozenset[str]] = frozenset({"ago", "event", "since"})
_LINKED_KINDS: Final[frozenset[str]] = frozenset({"for", "ago", "since", "event", "since_then"})


def number(text: str | None, lexicon: Lexicon) -> float | None:
    if text is None:
        return None
    cleaned = squash(text)
    try:
        return float(cleaned)
    except ValueError:
        pass
    return lexicon.number_values.get(cleaned)


def round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def quantity_weeks(match: re.Match[str], lexicon: Lexicon) -> float | None:
    groups = match.groupdict()
    unit_text = groups.get("unit")
    if unit_text is None:
        return None
    unit_text = unit_text.strip()
    per_unit = next((u.weeks for u in lexicon.units if u.forms.match(unit_text)), None)
    if per_unit is None:
        return None
    if groups.get("half_pre"):
        amount: float | None = 0.5
    elif groups.get("n") is None:
        amount = 1.0  # a unit on its own: "for the past month"
    else:
        amount = number(groups.get("n"), lexicon)
        upper = number(groups.get("n2"), lexicon)
        if amount is not None and upper is not None:
            amount = max(amount, upper)
    if amount is None:
        return None
    if groups.get("half_post") or groups.get("half_mid"):
        amount += 0.5
    return amount * per_unit


def _relative_weeks(text: str, lexicon: Lexicon) -> float | None:
    cleaned = " ".join(text.split())
    for pattern, weeks in lexicon.relative:
        if pattern.match(cleaned):
            return weeks
    return None


def _calendar_weeks(match: re.Match[str], lexicon: Lexicon, today: date) -> float | None:
    """Weeks since the last time a named day ("christmas", "half term", "march", "the 21st of
    september") came round."""
    days = lexicon.calendar.days.get(squash(match.group("when")))
    if not days:
        return None
    day_of_month = match.groupdict().get("day")
    if day_of_month:
        month = lexicon.calendar.months.get(squash(match.group("when")))
        if month is None:
            return None
        days = ((month, int(day_of_month)),)
    candidates = []
    for month, day in days:
        for year in (today.year, today.year - 1):
            try:
                when = date(year, month, min(day, 28) if month == 2 else day)
            except ValueError:
                continue
            if when <= today:
                candidates.append(when)
                break
    if not candidates:
        return None
    return (today - max(candidates)).days / 7


def reference_day(doc: Document, lexicon: Lexicon, today: date) -> date:
    """Today, or the day the message says it is ("we're nearly at the end of february",
    "it's october half term now")."""
    for pattern in lexicon.calendar.present:
        found = pattern.search(doc.text)
        if found is None:
            continue
        month = lexicon.calendar.months.get(squash(found.group("month")))
        if month is None:
            continue
        named = found.groupdict().get("when")
        days = [d for m, d in lexicon.calendar.days.get(squash(named or ""), ()) if m == month]
        part = (found.groupdict().get("part") or "").strip()
        if days:
            day = days[0]
        else:
            day = {"start": 5, "beginning": 5, "early": 5, "middle": 15, "mid": 15}.get(
                part, 25 if part else 15
            )
        year = today.year if (month, day) <= (today.month, today.day) else today.year - 1
        return date(year, month, min(day, 28))
    return today


def _match_weeks(match: re.Match[str], lexicon: Lexicon, today: date) -> float | None:
    groups = match.groupdict()
    if groups.get("when") is not None:
        return _calendar_weeks(match, lexicon, today)
    vague = groups.get("vague")
    if vague is not None:
        return lexicon.vague.get(squash(vague))
    weeks = quantity_weeks(match, lexicon)
    if weeks is not None:
        return weeks
    # a relative time: the phrase matched is the whole match or its last words
    phrase = match.group(0)
    for size in range(len(phrase.split()), 0, -1):
        tail = " ".join(phrase.split()[-size:])
        value = _relative_weeks(tail, lexicon)
        if value is not None:
            return value
    return None


def tidy_weeks(weeks: float) -> float:
    return max(MIN_DURATION_WEEKS, round(weeks, 2)) if weeks > 0 else 0.0


@dataclass(frozen=True)
class Duration:
    kind: str
    weeks: float | None
    start: int
    end: int


def duration_candidates(doc: Document, lexicon: Lexicon, today: date | None = None) -> list[Duration]:
    day = reference_day(doc, lexicon, today or date.today())
    found: list[Duration] = []
    # only sentences that name a unit or a time are worth the full patterns
    timed = [s for s in doc.sentences if lexicon.time_words.search(doc.text, s.start, s.end)]
    matches = (
        (kind, match)
        for kind, pattern in lexicon.duration_patterns
        for sentence in timed
        for match in pattern.finditer(doc.text, sentence.start, sentence.end)
    )
    for kind, match in matches:
        if match.end() == match.start():
            continue
        weeks = None if kind == "since_then" else _match_weeks(match, lexicon, day)
        if weeks is None and kind != "since_then":
            continue
        found.append(Duration(kind, weeks, match.start(), match.end()))
    found.sort(key=lambda item: (item.start, item.end))
    resolved: list[Duration] = []
    for item in found:
        if item.kind == "since_then":
            anchor = next(
                (
                    earlier
                    for earlier in reversed(resolved)
                    if earlier.kind in _ANCHOR_KINDS and earlier.end <= item.start
                ),
                None,
            )
            if anchor is None:
                continue
            item = Duration(item.kind, anchor.weeks, item.start, item.end)
        resolved.append(item)
    return resolved


def _linked(doc: Document, lexicon: Lexicon, span: Span) -> bool:
    text = doc.text
    return any(
        pattern.search(text, span.start, span.end)
        for pattern in (lexicon.pain_words, lexicon.radiation, lexicon.link_words)
    )


_UNRELATED_REACH: Final[int] = 80
"""Characters before a time phrase searched for the event it dates ("born ... seven weeks ago")."""


def _unrelated(doc: Document, lexicon: Lexicon, candidate: Duration) -> bool:
    """Is this the time of another event ("my daughter was born seven weeks ago")?"""
    sentence = doc.sentence_at(candidate.start)
    low = max(sentence.start, candidate.start - _UNRELATED_REACH)
    high = min(sentence.end, candidate.end + _UNRELATED_REACH)
    return any(
        found.start() < candidate.end and candidate.start < found.end()
        for pattern in lexicon.unrelated
        for found in pattern.finditer(doc.text, low, high)
    )


_EPISODE_REACH: Final[int] = 40
"""Characters either side of a time phrase within which "this flare" ties it to the episode."""


def pick_duration(doc: Document, lexicon: Lexicon, today: date) -> tuple[float | None, float | None]:
    """(the current episode, the whole history when it is longer), in weeks."""
    candidates = [
        c
        for c in duration_candidates(doc, lexicon, today)
        if c.weeks is not None and c.weeks <= MAX_DURATION_WEEKS and not _unrelated(doc, lexicon, c)
    ]
    if not candidates:
        return None, None
    spans = list(clauses(doc, lexicon, lexicon.scope_break))
    clause_starts = [c.start for c in spans]

    def clause_of(position: int) -> Span:
        return spans[max(0, bisect.bisect_right(clause_starts, position) - 1)]

    def episode(c: Duration) -> bool:
        sentence = doc.sentence_at(c.start)
        low = max(sentence.start, c.start - _EPISODE_REACH)
        high = min(sentence.end, c.end + _EPISODE_REACH)
        return lexicon.episode.search(doc.text, low, high) is not None

    def pained(span: Span) -> bool:
        return any(
            pattern.search(doc.text, span.start, span.end)
            for pattern in (lexicon.pain_words, lexicon.radiation)
        )

    # Best first: a time in the same clause as a pain word; then one tied to the
    # story ("it started", "since then") or to another symptom; then the sentence;
    # then the onset of an event; then any time at all.
    tiers: list[Callable[[Duration], bool]] = [
        lambda c: c.kind in _LINKED_KINDS | {"bare", "calendar"} and pained(clause_of(c.start)),
        lambda c: c.kind in _LINKED_KINDS and _linked(doc, lexicon, clause_of(c.start)),
        lambda c: c.kind in _LINKED_KINDS | {"calendar"} and _linked(doc, lexicon, doc.sentence_at(c.start)),
        lambda c: (
            c.kind in _ANCHOR_KINDS | {"since_then", "calendar"}
            and lexicon.onset.search(doc.text, doc.sentence_at(c.start).start, doc.sentence_at(c.start).end)
            is not None
        ),
        lambda c: c.kind == "bare" and _linked(doc, lexicon, doc.sentence_at(c.start)),
        lambda c: c.kind in ("bare", "calendar"),
    ]
    tied = [c.weeks for c in candidates if c.weeks is not None and (tiers[0](c) or tiers[1](c))]
    longest = max(tied) if tied else None
    current = [c.weeks for c in candidates if c.weeks is not None and episode(c)]
    if current:
        now = tidy_weeks(min(current))
        history = tidy_weeks(longest) if longest is not None and longest > now else None
        return now, history
    for accept in tiers:
        values = [c.weeks for c in candidates if c.weeks is not None and accept(c)]
        if values:
            return tidy_weeks(max(values)), None
    return None, None


def pick_pain(doc: Document, lexicon: Lexicon) -> int | None:
    scores: list[tuple[bool, int]] = []
    text = doc.text
    for pattern in lexicon.pain_patterns:
        for match in pattern.finditer(text):
            value = number(match.group("n"), lexicon)
            upper = number(match.groupdict().get("n2"), lexicon)
            if value is None:
                continue
            if upper is not None:
                value = max(value, upper)
            if not 0 <= value <= 10:
                continue
            sentence = doc.sentence_at(match.start())
            window = text[max(sentence.start, match.start() - 30) : min(sentence.end, match.end() + 30)]
            scores.append((lexicon.now_cue.search(window) is not None, round_half_up(value)))
    if not scores:
        return None
    now = [value for is_now, value in scores if is_now]
    return max(now) if now else max(value for _, value in scores)


def first_valid(
    patterns: Sequence[re.Pattern[str]],
    text: str,
    read: Callable[[re.Match[str]], Any],
) -> Any:
    best: tuple[int, Any] | None = None
    for pattern in patterns:
        for match in pattern.finditer(text):
            value = read(match)
            if value is None:
                continue
            if best is None or match.start() < best[0]:
                best = (match.start(), value)
            break
    return None if best is None else best[1]


def age_of(match: re.Match[str], lexicon: Lexicon, today: date | None = None) -> int | None:
    """The age a match states: a number, a decade ("in my late fifties") or a birth year."""
    groups = match.groupdict()
    if groups.get("decade"):
        base = lexicon.age_decades.get(squash(groups["decade"]))
        if base is None:
            return None
        return base + lexicon.age_modifiers.get(squash(groups.get("mod") or ""), 0)
    if groups.get("nearly"):
        nearly = number(groups["nearly"], lexicon)
        return int(nearly) - 1 if nearly is not None and 1 <= nearly <= 120 else None
    if groups.get("school"):
        return int(groups["school"]) + lexicon.age_school_offset
    if groups.get("year2"):
        day = today or date.today()
        short = int(groups["year2"])
        year = 2000 + short if 2000 + short <= day.year else 1900 + short
        age = day.year - year
        return age if 0 <= age <= 120 else None
    if groups.get("year"):
        year = int(groups["year"])
        age = (today or date.today()).year - year
        return age if 0 <= age <= 120 else None
    value = number(groups.get("n"), lexicon)
    if value is None or value != int(value) or not 0 <= value <= 120:
        return None
    return int(value)


def pick_age(doc: Document, lexicon: Lexicon, patient: Patient, today: date) -> int | None:
    """The patient's age: the writer's, or, for a message about someone else, theirs."""
    patterns = lexicon.patient.age_patterns if patient.proxy else lexicon.age_patterns
    value: int | None = first_valid(patterns, doc.text, lambda m: age_of(m, lexicon, today))
    if value is None and not patient.proxy and lexicon.age_words is not None:
        found = lexicon.age_words.search(doc.text)
        if found is not None:
            value = lexicon.age_word_values.get(squash(found.group(0)))
    return value


def sex_of(match: re.Match[str], lexicon: Lexicon) -> str | None:
    word = " ".join(match.group("sex").split())
    return lexicon.sex_codes.get(word)


def pick_sex(doc: Document, lexicon: Lexicon, patient: Patient) -> str | None:
    if patient.proxy:
        return patient_sex(doc, lexicon, patient)
    value: str | None = first_valid(lexicon.sex_patterns, doc.text, lambda m: sex_of(m, lexicon))
    return value
