"""Typos of danger words, corrected before reading ("numbnes", "incontinance", "bladdr").

Only words of the lexicon's `fuzzy.words` list are targets: the words the most
dangerous findings are described with. A word is rewritten when it is not itself
a word the lexicon knows (any word its patterns or the `fuzzy.keep` list spell
out), is long enough, and is close enough to a target by rapidfuzz's similarity
ratio. Anything then found through a corrected word is an uncertain reading (the
chat asks), so a wrong correction costs one question, and a correction can only
add findings: no target is a negation word, so none can hide one.
"""

from __future__ import annotations

import re
from typing import Final

from rapidfuzz import fuzz, process

from bot.core.understanding.document import Span
from bot.core.understanding.lexicon import Lexicon

_TOKEN: Final = re.compile(r"[a-z\u00df-\u024f]+")


def correct(text: str, lexicon: Lexicon) -> tuple[str, tuple[Span, ...]]:
    """The text with typos of danger words rewritten, and where the rewritten words now are."""
    spelling = lexicon.spelling
    if not spelling.words:
        return text, ()
    pieces: list[str] = []
    spans: list[Span] = []
    position = 0
    shift = 0
    cache: dict[str, str | None] = {}
    for token in _TOKEN.finditer(text):
        word = token.group(0)
        if len(word) < spelling.min_length or word in spelling.known or word in spelling.keep:
            continue
        if word not in cache:
            best = process.extractOne(
                word, spelling.words, scorer=fuzz.ratio, score_cutoff=spelling.min_score
            )
            cache[word] = None if best is None else str(best[0])
        target = cache[word]
        if target is None or target == word:
            continue
        pieces.append(text[position : token.start()])
        start = token.start() + shift
        pieces.append(target)
        spans.append(Span(start, start + len(target)))
        shift += len(target) - len(word)
        position = token.end()
    if not spans:
        return text, ()
    pieces.append(text[position:])
    return "".join(pieces), tuple(spans)
