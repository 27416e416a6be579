"""A message made ready for reading: normalised text cut into sentences.

Every character is read; nothing is cut. The patterns of a language expect the
normalised form: NFKC, typographic apostrophes, quotes and dashes unified,
control and zero-width characters removed, lower case, letters folded to the
spelling people type without them (the lexicon's `normalise.characters`, "ü" as
"ue" in German), whitespace collapsed, and the lexicon's word rewrites applied ("cannot" -> "can't"). Sentences end where
the lexicon says (. ! ? ; and new lines in English); no pattern reaches across
one.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from bot.core.understanding.lexicon import Lexicon

WORD: Final = re.compile(r"[\w']+")
_CONTROL: Final = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u061c\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2069\ufeff\ufff9-\ufffb]"
)
_SPACES: Final = re.compile(r"[^\S\n]+")
_NEWLINES: Final = re.compile(r"\s*\n\s*")
_TRANSLATE: Final = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u02bc": "'",
        "\u00b4": "'",
        "\u0060": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\r": "\n",
        "\t": " ",
    }
)


@dataclass(frozen=True)
class Span:
    """A stretch of the normalised text, [start, end)."""

    start: int
    end: int

    def __contains__(self, position: object) -> bool:
        return isinstance(position, int) and self.start <= position < self.end


def normalise(text: str, lexicon: Lexicon) -> str:
    """Lower-case, unified, cleaned text as the patterns expect it."""
    text = unicodedata.normalize("NFKC", text).translate(_TRANSLATE)
    text = _CONTROL.sub("", text).lower()
    if lexicon.fold:
        text = text.translate(lexicon.fold)
    text = _SPACES.sub(" ", text)
    text = _NEWLINES.sub("\n", text).strip()
    if lexicon.rewrite is not None:
        rewrite = lexicon.rewrite
        targets = lexicon.rewrites

        def replace(match: re.Match[str]) -> str:
            start = match.start()
            if start and (text[start - 1].isalnum() or text[start - 1] in "_'"):
                return match.group(0)  # inside a word
            return targets.get(" ".join(match.group(0).split()), match.group(0))

        text = rewrite.sub(replace, text)
    return text


@dataclass(frozen=True)
class Document:
    """A normalised message split into sentences.

    `corrected` holds the spans of words the fuzzy pass rewrote (typos of danger
    words): anything found through them is an uncertain reading.
    """

    text: str
    sentences: tuple[Span, ...]
    starts: tuple[int, ...]
    corrected: tuple[Span, ...] = ()

    def sentence_at(self, position: int) -> Span:
        index = max(0, bisect.bisect_right(self.starts, position) - 1)
        return self.sentences[index]

    def sentence_index(self, position: int) -> int:
        return max(0, bisect.bisect_right(self.starts, position) - 1)

    def touches_correction(self, start: int, end: int) -> bool:
        return any(span.start < end and start < span.end for span in self.corrected)


def split_sentences(text: str, lexicon: Lexicon, corrected: tuple[Span, ...] = ()) -> Document:
    spans: list[Span] = []
    position = 0
    for end in lexicon.sentence_end.finditer(text):
        if end.start() > position:
            spans.append(Span(position, end.start()))
        position = end.end()
    if position < len(text) or not spans:
        spans.append(Span(position, len(text)))
    return Document(text, tuple(spans), tuple(span.start for span in spans), corrected)


def words(text: str) -> int:
    return len(WORD.findall(text))


def last(pattern: re.Pattern[str], text: str, start: int, end: int) -> re.Match[str] | None:
    found = None
    for found in pattern.finditer(text, start, end):  # noqa: B007 - the last one is wanted
        pass
    return found


def clauses(doc: Document, lexicon: Lexicon, breaker: re.Pattern[str]) -> Iterator[Span]:
    """Sentences cut at contrastive words and at conjunctions that start a new statement."""
    for sentence in doc.sentences:
        cuts = sorted(
            {m.start() for m in lexicon.contrast.finditer(doc.text, sentence.start, sentence.end)}
            | {m.start() for m in breaker.finditer(doc.text, sentence.start, sentence.end)}
        )
        start = sentence.start
        for cut in cuts:
            if cut > start:
                yield Span(start, cut)
            start = cut
        if sentence.end > start:
            yield Span(start, sentence.end)
