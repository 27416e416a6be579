"""Red flags and other yes/no answer keys in a message.

Each key's patterns are searched (see `Lexicon.dispatch` for the fast path); each
mention is read in its context (`context.classify`), and the readings of all
mentions of a key give its value:

- affirmed anywhere: True, whatever else the message says about it: missing a
  red flag is worse than a false one;
- otherwise uncertain anywhere: uncertain (the chat asks; `assess` says yes);
- otherwise ruled out (negated, or a `negative` phrasing such as "sitting is a
  relief"): False;
- otherwise (only past, hypothetical, someone else's): not a finding.

There is no cap on mentions: a warning sign after a thousand denials is still
found. Each mention costs a bounded amount of work, so the whole pass is linear in
the length of the message.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import Final

from bot.core.understanding.context import Patient, Reading, classify, pre_negated
from bot.core.understanding.document import Document, Span
from bot.core.understanding.lexicon import FlagRule, Lexicon

_WORD_START: Final = re.compile(r"\b\w")


def flag_mentions(doc: Document, lexicon: Lexicon) -> list[list[tuple[Span, re.Match[str]]]]:
    """Every flag's pattern matches, in text order, each with its sentence.

    A pattern that starts with known text is tried only where a word starts with its
    first three (or two) characters; the other patterns are searched sentence by
    sentence.
    """
    text = doc.text
    found: list[list[tuple[Span, re.Match[str]]]] = [[] for _ in lexicon.flags]
    sentences = doc.sentences
    index = 0
    for word in _WORD_START.finditer(text):
        start = word.start()
        entries = lexicon.dispatch.get(text[start : start + 3], ()) + lexicon.dispatch.get(
            text[start : start + 2], ()
        )
        if not entries:
            continue
        while index + 1 < len(sentences) and sentences[index].end <= start:
            index += 1
        sentence = sentences[index]
        for flag_index, pattern in entries:
            match = pattern.match(text, start, sentence.end)
            if match is not None:
                found[flag_index].append((sentence, match))
    for flag_index, rule in enumerate(lexicon.flags):
        if rule.residual is None:
            continue
        for sentence in sentences:
            for match in rule.residual.finditer(text, sentence.start, sentence.end):
                found[flag_index].append((sentence, match))
        found[flag_index].sort(key=lambda item: item[1].start())
    return found


@dataclass(frozen=True)
class FlagReadings:
    """The values of the yes/no keys a message speaks of."""

    values: dict[str, bool]
    uncertain: frozenset[str]
    past: frozenset[str]


class _Exceptions:
    """Where each rule's `except` patterns match, found once per sentence and kept.

    Searching a window around every mention cost as much as the rest of the reading for
    a message that repeats one word thousands of times; one pass per sentence does not.
    """

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.spans: dict[tuple[str, int], list[tuple[int, int]]] = {}

    def covers(self, rule: FlagRule, sentence: Span, match: re.Match[str]) -> bool:
        if rule.exceptions is None:
            return False
        key = (rule.key, sentence.start)
        spans = self.spans.get(key)
        if spans is None:
            spans = [
                found.span()
                for found in rule.exceptions.finditer(self.doc.text, sentence.start, sentence.end)
            ]
            self.spans[key] = spans
        # spans are in order of their start; only those starting before the mention ends matter
        index = bisect.bisect_left(spans, (match.end(), -1))
        return any(end > match.start() for _, end in spans[max(0, index - _LOOK_BACK_SPANS) : index])


_LOOK_BACK_SPANS: Final[int] = 8
"""How many exception matches before a mention are checked for overlap (they do not nest deeply)."""


_CONTEXT_SENTENCES = 2
"""How many sentences before a mention its context may be named in ("My hernia ... Normally I
push it back in. Since this morning it's stuck out.")."""


def _in_context(doc: Document, context: re.Pattern[str], sentence: Span) -> bool:
    """The sentence, or one of the two before it, holds the rule's context ("I tried the ball.
    Worse the next day.")."""
    index = doc.sentence_index(sentence.start)
    start = doc.sentences[max(0, index - _CONTEXT_SENTENCES)].start
    return context.search(doc.text, start, sentence.end) is not None


def _reading(
    doc: Document,
    lexicon: Lexicon,
    rule: FlagRule,
    mentions: list[tuple[Span, re.Match[str]]],
    patient: Patient,
    exceptions: _Exceptions,
) -> set[Reading]:
    seen: set[Reading] = set()
    for sentence, match in mentions:
        if match.end() == match.start() or exceptions.covers(rule, sentence, match):
            continue
        if rule.context is not None and not _in_context(doc, rule.context, sentence):
            continue
        reading = classify(doc, lexicon, sentence, match, rule, patient)
        seen.add(reading)
        if reading is Reading.AFFIRMED:
            break  # nothing later can change it
    return seen


def _contextual_mentions(doc: Document, rule: FlagRule) -> list[tuple[Span, re.Match[str]]]:
    found: list[tuple[Span, re.Match[str]]] = []
    for context, pattern in rule.contextual:
        for match in pattern.finditer(doc.text):
            sentence = doc.sentence_at(match.start())
            if _in_context(doc, context, sentence):
                found.append((sentence, match))
    return found


def scan_flags(doc: Document, lexicon: Lexicon, patient: Patient) -> FlagReadings:
    values: dict[str, bool] = {}
    uncertain: set[str] = set()
    past: set[str] = set()
    text = doc.text
    exceptions = _Exceptions(doc)
    for rule, mentions in zip(lexicon.flags, flag_mentions(doc, lexicon), strict=True):
        if rule.contextual:
            mentions = sorted([*mentions, *_contextual_mentions(doc, rule)], key=lambda item: item[1].start())
        seen = _reading(doc, lexicon, rule, mentions, patient, exceptions)
        if Reading.AFFIRMED in seen:
            values[rule.key] = True
            continue
        if Reading.UNCERTAIN in seen:
            uncertain.add(rule.key)
            continue
        if Reading.NEGATED in seen:
            values[rule.key] = False
        elif Reading.PAST in seen:
            past.add(rule.key)
        if rule.negative is not None and rule.key not in values:
            for match in rule.negative.finditer(text):
                sentence = doc.sentence_at(match.start())
                if pre_negated(doc, lexicon, sentence, match):
                    continue
                if classify(doc, lexicon, sentence, match, rule, patient) is not Reading.AFFIRMED:
                    continue
                values[rule.key] = False
                break
    return FlagReadings(values, frozenset(uncertain), frozenset(past))
