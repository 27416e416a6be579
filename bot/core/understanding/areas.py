"""Where it hurts and where the pain spreads, from the body areas a message names.

An area counts as painful when the nearest symptom word in its clause is a pain
word (not "numb" or "weak"); after a radiation verb ("spreads", "shoots down")
it counts as where the pain spreads. Areas named with no symptom word at all
("a lump in my groin") are used only when nothing is called painful.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from bot.core.understanding.context import pre_negated
from bot.core.understanding.document import Document, Span, clauses, words
from bot.core.understanding.lexicon import Lexicon


def _distance(a: tuple[int, int], b: tuple[int, int]) -> int:
    if a[1] <= b[0]:
        return b[0] - a[1]
    if b[1] <= a[0]:
        return a[0] - b[1]
    return 0


def _symptom_kind(
    text: str,
    lexicon: Lexicon,
    clause: Span,
    mention: re.Match[str],
    hits: Sequence[tuple[tuple[int, int], str]],
) -> str:
    """Is the area named with a pain word or with another symptom ("gone numb")?

    The area's own predicate decides ("my thigh has gone numb", "my back is sore");
    failing that, the nearest symptom word in the clause.
    """
    verb = lexicon.verbs.search(text, mention.end(), min(clause.end, mention.end() + 40))
    if verb is not None and words(text[mention.end() : verb.start()]) <= 1:
        following = [(span[0], kind) for span, kind in hits if verb.start() <= span[0] <= verb.end() + 25]
        if following:
            return min(following)[1]
    return min(hits, key=lambda hit: _distance(hit[0], mention.span()))[1]


_POST_REACH = 30
"""Characters after an area within which "... is fine" rules it out ("belly's fine")."""


def _negated(doc: Document, lexicon: Lexicon, mention: re.Match[str]) -> bool:
    """ "no stomach ache", "belly's fine": an area named only to say it does not hurt."""
    sentence = doc.sentence_at(mention.start())
    if pre_negated(doc, lexicon, sentence, mention):
        return True
    after = doc.text[mention.end() : min(sentence.end, mention.end() + _POST_REACH)]
    if lexicon.neg_post_immediate.match(after):
        return True
    cue = lexicon.neg_post.search(after)
    return cue is not None and words(after[: cue.start()]) <= 1


def _statements(doc: Document, lexicon: Lexicon) -> Iterator[Span]:
    """Clauses, cut again at "and my ..." when the part before has its own symptom and a verb
    follows ("my thigh went numb and my groin is sore"), but not in a list ("pain in my back
    and my groin") or a joint subject ("my back and the front of my hip have ached")."""
    text = doc.text
    for clause in clauses(doc, lexicon, lexicon.clause_break):
        start = clause.start
        for weak in lexicon.weak_break.finditer(text, clause.start, clause.end):
            if weak.start() <= start:
                continue
            horizon = min(clause.end, weak.end() + 40)
            said_already = any(
                pattern.search(text, start, weak.start())
                for pattern in (lexicon.pain_words, lexicon.other_symptoms, lexicon.radiation)
            )
            if said_already and lexicon.verbs.search(text, weak.end(), horizon):
                yield Span(start, weak.start())
                start = weak.start()
        if clause.end > start:
            yield Span(start, clause.end)


def scan_areas(doc: Document, lexicon: Lexicon) -> tuple[tuple[str, ...], tuple[str, ...]]:
    text = doc.text
    location: list[str] = []
    radiates: list[str] = []
    neutral: list[str] = []  # areas named with no symptom word at all ("a lump in my groin")
    for clause in _statements(doc, lexicon):
        mentions = [m for m in lexicon.areas.finditer(text, clause.start, clause.end) if m.lastgroup]
        if not mentions:
            continue
        pains = [m.span() for m in lexicon.pain_words.finditer(text, clause.start, clause.end)]
        spreads = [m.span() for m in lexicon.radiation.finditer(text, clause.start, clause.end)]
        others = [m.span() for m in lexicon.other_symptoms.finditer(text, clause.start, clause.end)]
        if not pains and not spreads:
            sentence = doc.sentence_at(clause.start)
            if not lexicon.other_symptoms.search(text, sentence.start, sentence.end):
                for mention in mentions:
                    if (
                        mention.lastgroup
                        and mention.lastgroup not in neutral
                        and not _negated(doc, lexicon, mention)
                    ):
                        neutral.append(mention.lastgroup)
            continue
        hits = [(span, "pain") for span in pains + spreads] + [(span, "other") for span in others]
        for mention in mentions:
            area = mention.lastgroup
            if area is None or _negated(doc, lexicon, mention):
                continue
            before = text[max(clause.start, mention.start() - 40) : mention.start()]
            if lexicon.diagnosis.search(text, max(clause.start, mention.start() - 60), mention.start()):
                continue  # "the GP said it's a tight hip flexor": a verdict, not a place it hurts
            cue = max((s for s, _ in spreads if s < mention.start()), default=None)
            # After a radiation verb with no other symptom in between, the verb governs
            # ("shoots ... into my calf, with a numb patch"); otherwise the nearest
            # symptom word decides whether this area is about pain at all.
            governed = cue is not None and not any(cue < s < mention.start() for s, _ in others)
            if not governed and _symptom_kind(text, lexicon, clause, mention, hits) != "pain":
                continue
            spreading = cue is not None and not lexicon.radiation_source.search(before)
            target = radiates if spreading else location
            if area not in target:
                target.append(area)
    # Nothing called painful, but areas named (someone writing to a pain check
    # about "the lump in my groin" or "my hip clicks"): those are where it is.
    if not location:
        location = [area for area in neutral if area not in radiates]
    return tuple(location), tuple(radiates)


# --------------------------------------------------------------------------- numbers
