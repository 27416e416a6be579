"""Context around a finding, in the manner of NegEx and ConText.

A mention of a red flag ("numb", "can't pee") is not yet a finding. Around it the
reader looks for what changes its meaning:

- negation: a cue before it ("no", "haven't had") reaching at most a few words,
  unless a contrastive word ("but"), or a conjunction or comma starting a new
  statement, closes the scope first; a cue after it ("... is fine", "Numbness?
  No."); and a short answer sentence after a question that lists it ("They asked
  about fever or numbness. None of that.");
- another person: a relative or friend as its subject ("my nan had bowel
  cancer"), unless the whole message is about that person (see `subject`);
- hypothetical: "in case", "if I ever", "what to watch for";
- a reported question: "the GP asked about numbness" is neither yes nor no
  until an answer follows;
- the past: resolved or long-ago ("had shingles in May, all cleared", "years
  ago"); whether a past mention still counts is decided per key
  (`content/understanding/keys.yaml`), since a cancer years ago matters and a
  fever last spring does not;
- uncertainty: a hedge ("maybe", "not sure if", "I think") or a question
  ("is it normal to be numb down there?"), or a match that needed a spelling
  correction. An uncertain reading is never dropped: the chat asks the explicit
  question, and `psoasbot assess`, which cannot ask, counts it as a yes.

Every window is bounded (`LOOKBACK` characters, the lexicon's word gaps), so the
cost of a mention does not grow with the length of the message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Final

from bot.core.understanding.document import Document, Span, last, words
from bot.core.understanding.lexicon import FlagRule, Lexicon

LOOKBACK: Final[int] = 240
"""How far back (characters) a negation, relative or hypothetical cue is sought."""

_MAX_OTHER_PERSON_GAP: Final[int] = 10
_LIST_BREAK: Final = re.compile(r"[,:]")
_DETERMINER: Final = re.compile(r"\b(?:my|the|our|your)\b")
"""A comma ends the statement a cue after the finding can close ("in remission, bowels normal")."""
_LOOKBACK: Final[int] = LOOKBACK


class Reading(Enum):
    """What one mention says about the patient now."""

    AFFIRMED = "affirmed"
    NEGATED = "negated"
    UNCERTAIN = "uncertain"
    PAST = "past"
    HYPOTHETICAL = "hypothetical"
    OTHER_PERSON = "other_person"
    QUESTION = "question"


@dataclass(frozen=True)
class Patient:
    """Whom the message is about: the writer, or someone they write for."""

    proxy: bool = False
    relation: str | None = None
    """The word the writer uses for that person ("dad", "wife"), when proxy."""


def scope_start(doc: Document, lexicon: Lexicon, sentence: Span, position: int) -> int:
    """Where the statement holding `position` begins: after the last contrastive word."""
    low = max(sentence.start, position - _LOOKBACK)
    contrast = last(lexicon.contrast, doc.text, low, position)
    return contrast.end() if contrast else low


def _breaks_between(doc: Document, lexicon: Lexicon, start: int, match: re.Match[str]) -> bool:
    """Does a new statement begin between `start` and the match (", and I ...")?"""
    text = doc.text
    found = lexicon.scope_break.search(text, start, match.end())
    if found is not None and found.start() < match.start():
        return True
    # "..., and my <noun>" is a new statement only if a verb follows the noun
    horizon = min(doc.sentence_at(match.start()).end, match.end() + 30)
    for weak in lexicon.weak_break.finditer(text, start, match.end()):
        if weak.start() >= match.start():
            break
        if lexicon.verbs.search(text, weak.end(), horizon):
            return True
    return False


def pre_negated(doc: Document, lexicon: Lexicon, sentence: Span, match: re.Match[str]) -> bool:
    low = scope_start(doc, lexicon, sentence, match.start())
    high = min(sentence.end, match.end() + _LOOKBACK)
    pseudo = [m.span() for m in lexicon.neg_pseudo.finditer(doc.text, low, high)]
    cue: re.Match[str] | None = None
    for candidate in lexicon.neg_pre.finditer(doc.text, low, match.start()):
        if not any(s <= candidate.start() < e for s, e in pseudo):
            cue = candidate
    if cue is None:
        return False
    if words(doc.text[cue.end() : match.start()]) > lexicon.max_gap_words:
        return False
    return not _breaks_between(doc, lexicon, cue.end(), match)


def post_negated(
    doc: Document, lexicon: Lexicon, sentence: Span, match: re.Match[str], rule: FlagRule
) -> bool:
    text = doc.text
    # The finding must be the subject of the statement the cue closes: nothing
    # like "I have a ..." before it in its clause.
    low = scope_start(doc, lexicon, sentence, match.start())
    clause = max(
        (
            found.start()
            for pattern in (lexicon.scope_break, lexicon.weak_break, _LIST_BREAK)
            if (found := last(pattern, text, low, match.start())) is not None
        ),
        default=low,
    )
    prefix = text[clause : match.start()]
    # Only the noun phrase counts: "and I say my waterworks are no different" is about the
    # waterworks, while "I have a fever and everything else is fine" is not about the fever.
    determiner = last(_DETERMINER, prefix, 0, len(prefix))
    if determiner is not None:
        prefix = prefix[determiner.start() :]
    if lexicon.post_blockers.search(prefix):
        return False
    end = min(sentence.end, match.end() + _LOOKBACK)
    contrast = lexicon.contrast.search(text, match.end(), end)
    if contrast:
        end = contrast.start()
    after = text[match.end() : end]
    if lexicon.neg_post_immediate.match(after):
        return True
    if not after.strip() and end == sentence.end and lexicon.neg_post_immediate.match(text[end : end + 16]):
        return True  # "Numbness? No."
    cues = [lexicon.neg_post]
    if rule.key in lexicon.change_flags and lexicon.neg_post_change is not None:
        cues.append(lexicon.neg_post_change)
    for cue_pattern in cues:
        cue = cue_pattern.search(after)
        if cue is None:
            continue
        gap = after[: cue.start()]
        if words(gap) > lexicon.max_post_gap_words or lexicon.post_blockers.search(gap):
            continue
        broken = lexicon.scope_break.search(after, 0, cue.end())
        if broken is not None and broken.start() < cue.start():
            continue
        if _other_subject(lexicon, rule, text, match.end(), match.end() + cue.start(), end):
            continue
        return True
    return False


def _other_subject(lexicon: Lexicon, rule: FlagRule, text: str, start: int, stop: int, end: int) -> bool:
    """Does "and my <noun>" between start and stop name something other than this key?

    "my bladder and my bowels are fine" negates both; in "numbness in my foot and
    my bladder is fine" the cue belongs to the bladder, not to the numbness.
    """
    for weak in lexicon.weak_break.finditer(text, start, stop):
        noun = weak.end() + len(text[weak.end() : stop]) - len(text[weak.end() : stop].lstrip())
        if not any(p.match(text, noun, end) for p in rule.patterns):
            return True
    return False


def _cue(
    doc: Document,
    lexicon: Lexicon,
    sentence: Span,
    match: re.Match[str],
    pattern: re.Pattern[str],
    max_words: int,
    blockers: re.Pattern[str] | None = None,
    *,
    within: bool = False,
) -> re.Match[str] | None:
    """The last cue of `pattern` before the mention whose scope reaches it, if any.

    With `within`, a cue may run into the mention itself ("my flatmate fell" is both
    the cue and, at "fell", the mention of a fall).
    """
    low = scope_start(doc, lexicon, sentence, match.start())
    cue = last(pattern, doc.text, low, match.end() if within else match.start())
    if cue is not None and cue.start() >= match.start():
        cue = None
    if cue is None:
        return None
    if cue.end() > match.start():
        return cue
    gap = doc.text[cue.end() : match.start()]
    if words(gap) > max_words or (blockers is not None and blockers.search(gap)):
        return None
    return None if _breaks_between(doc, lexicon, cue.end(), match) else cue


def _after(
    doc: Document,
    lexicon: Lexicon,
    sentence: Span,
    match: re.Match[str],
    pattern: re.Pattern[str],
    *,
    whole_statement: bool = False,
) -> bool:
    """Does a cue of `pattern` follow the mention within a few words?

    The window ends at a contrast ("but") and, unless `whole_statement`, at a new
    statement; a resolution usually comes in the next clause ("had a temperature,
    that's all cleared up now"), so the past looks that far.
    """
    text = doc.text
    end = min(sentence.end, match.end() + LOOKBACK)
    closers = (lexicon.contrast,) if whole_statement else (lexicon.contrast, lexicon.scope_break)
    for closer in closers:
        found = closer.search(text, match.end(), end)
        if found is not None:
            end = found.start()
    cue = pattern.search(text, match.end(), end)
    limit = lexicon.context_gap_words * (2 if whole_statement else 1)
    if cue is None or words(text[match.end() : cue.start()]) > limit:
        return False
    # "on rivaroxaban since a DVT last year": the time dates the start of something ongoing
    return not (whole_statement and lexicon.ongoing.search(text, match.end(), cue.start()))


def other_person(
    doc: Document, lexicon: Lexicon, sentence: Span, match: re.Match[str], patient: Patient
) -> bool:
    """Is someone other than the patient the subject of this mention?

    When the message is about a relative ("my dad ... he's had"), a cue naming that
    relative is the patient; one naming anybody else ("his mum had cancer") is not.
    """
    cue = _cue(
        doc,
        lexicon,
        sentence,
        match,
        lexicon.other_person,
        _MAX_OTHER_PERSON_GAP,
        lexicon.other_person_blockers,
        within=True,
    )
    if cue is None:
        after = doc.text[match.end() : min(sentence.end, match.end() + 80)]
        post = lexicon.other_person_post.search(after)
        if post is None:
            return False
        cue = post
    if not patient.proxy:
        return True
    named = lexicon.patient.relation.search(cue.group(0))
    owner = cue.group(0).split(maxsplit=1)[0] if cue.group(0).strip() else ""
    same = named is not None and " ".join(named.group(0).split()) == patient.relation
    return not (same and owner not in lexicon.patient.others_owners)


def hypothetical(doc: Document, lexicon: Lexicon, sentence: Span, match: re.Match[str]) -> bool:
    return _cue(doc, lexicon, sentence, match, lexicon.hypothetical, lexicon.max_gap_words) is not None


def _is_question(doc: Document, sentence: Span) -> bool:
    return "?" in doc.text[sentence.end : sentence.end + 3]


def _answer_after(doc: Document, lexicon: Lexicon, sentence: Span) -> bool | None:
    """A short answer in the next sentence ("None of that.", "Yes, both."): its polarity."""
    index = doc.sentence_index(sentence.start)
    if index + 1 >= len(doc.sentences):
        return None
    following = doc.sentences[index + 1]
    reply = doc.text[following.start : following.end].strip(" ,.:-")
    if not reply or words(reply) > lexicon.answer_max_words:
        return None
    if lexicon.answer_no.fullmatch(reply):
        return False
    if lexicon.answer_yes.fullmatch(reply):
        return True
    return None


def _past(doc: Document, lexicon: Lexicon, sentence: Span, match: re.Match[str], rule: FlagRule) -> bool:
    """Long ago ("used to inject", "a crash 12 years ago") or, where that undoes it, resolved."""
    if _cue(doc, lexicon, sentence, match, lexicon.past_pre, lexicon.context_gap_words) is not None:
        return True
    # a time earlier in the sentence, even past a comma: "clean 8 years now, I used to inject"
    low = scope_start(doc, lexicon, sentence, match.start())
    earlier = last(lexicon.past_pre, doc.text, low, match.start())
    if (
        earlier is not None
        and words(doc.text[earlier.end() : match.start()]) <= lexicon.context_gap_words * 2
    ):
        return True
    if _after(doc, lexicon, sentence, match, lexicon.past_post, whole_statement=True):
        return True
    return rule.key not in lexicon.resolved_counts and _after(
        doc, lexicon, sentence, match, lexicon.resolved_post, whole_statement=True
    )


def _ended_later(doc: Document, lexicon: Lexicon, sentence: Span, match: re.Match[str]) -> bool:
    """After "used to ...", does the sentence say when it ended, even past a "but"?"""
    text = doc.text
    end = min(sentence.end, match.end() + LOOKBACK)
    limit = lexicon.context_gap_words * 2
    for pattern in (lexicon.resolved_post, lexicon.past_post):
        cue = pattern.search(text, match.end(), end)
        if cue is not None and words(text[match.end() : cue.start()]) <= limit:
            return True
    return False


def classify(
    doc: Document,
    lexicon: Lexicon,
    sentence: Span,
    match: re.Match[str],
    rule: FlagRule,
    patient: Patient,
) -> Reading:
    """What one mention of `rule.key` says; the order of the checks matters (see the module)."""
    if other_person(doc, lexicon, sentence, match, patient):
        return Reading.OTHER_PERSON
    if hypothetical(doc, lexicon, sentence, match):
        return Reading.HYPOTHETICAL
    if _after(doc, lexicon, sentence, match, lexicon.hypothetical_post, whole_statement=True):
        return Reading.HYPOTHETICAL  # "... lose control of your bladder and you go straight to A&E"
    if pre_negated(doc, lexicon, sentence, match) or post_negated(doc, lexicon, sentence, match, rule):
        return Reading.NEGATED
    # A reported question or a list of signs to watch for anywhere earlier in the sentence
    # ("the physio listed: any numbness, bladder changes, a fever, ...").
    low = scope_start(doc, lexicon, sentence, match.start())
    reported = lexicon.question_cue.search(doc.text, low, match.start()) is not None
    if reported or _is_question(doc, sentence):
        answer = _answer_after(doc, lexicon, sentence)
        if answer is False:
            return Reading.NEGATED
        if answer is True:
            return Reading.AFFIRMED
        if reported:
            return Reading.QUESTION
    lasting = rule.lasting is not None and rule.lasting.search(match.group(0)) is not None
    if rule.key not in lexicon.past_counts and not lasting and _past(doc, lexicon, sentence, match, rule):
        return Reading.PAST
    vague_past = (
        rule.key not in lexicon.past_counts
        and not lasting
        and (
            lexicon.vague_past.search(match.group(0)) is not None  # "I used to inject"
            or _cue(doc, lexicon, sentence, match, lexicon.vague_past, lexicon.context_gap_words) is not None
        )
    )
    if vague_past and _ended_later(doc, lexicon, sentence, match):
        return Reading.PAST  # "used to be on warfarin but came off it 2 years ago"
    if (
        vague_past
        or _is_question(doc, sentence)
        or doc.touches_correction(match.start(), match.end())
        or _cue(doc, lexicon, sentence, match, lexicon.uncertain_pre, lexicon.context_gap_words) is not None
        or _after(doc, lexicon, sentence, match, lexicon.uncertain_post)
    ):
        return Reading.UNCERTAIN
    return Reading.AFFIRMED
