"""Whom a message is about: the writer, or a relative or friend they write for.

"I'm 45, asking for my dad who's 78. he's had an ache ..." is about the dad: his
age is the one that counts, his symptoms are the findings, and "his mum had
cancer" is family history. A message is read as written for someone else when
it says so ("asking for my dad", "for my wife, 52") or when it opens with a
relative and then speaks of them more than of the writer ("my son is 14 ... he's
been ..."). The lexicon supplies the words (`patient` section).
"""

from __future__ import annotations

from bot.core.understanding.context import Patient
from bot.core.understanding.document import Document
from bot.core.understanding.lexicon import Lexicon

_LEAD_CHARS = 240
"""How far into the message a relative must be named to open it."""


def patient_of(doc: Document, lexicon: Lexicon) -> Patient:
    """The writer (the default) or the relative the message is written for."""
    text = doc.text
    section = lexicon.patient
    for pattern in section.proxy:
        explicit = pattern.search(text)
        if explicit is not None:
            return Patient(proxy=True, relation=" ".join(explicit.group("who").split()))
    lead = next(
        (
            found
            for pattern in section.lead
            if (found := pattern.search(text, 0, min(len(text), _LEAD_CHARS)))
        ),
        None,
    )
    if lead is None:
        return Patient()
    third = len(section.third_person.findall(text))
    first = len(section.first_person.findall(text))
    who = lead.group("who")
    if third > first or who is None:
        # "my 4yo won't walk": an age before the person names them as someone else
        return Patient(proxy=True, relation=" ".join(who.split()) if who else None)
    return Patient()


def patient_sex(doc: Document, lexicon: Lexicon, patient: Patient) -> str | None:
    """The sex the relation word or the pronouns give, for a message about someone else."""
    if not patient.proxy or patient.relation is None:
        return None
    section = lexicon.patient
    known = section.relation_sex.get(patient.relation)
    if known is not None:
        return known
    he = len(section.he.findall(doc.text))
    she = len(section.she.findall(doc.text))
    if he != she:
        return "M" if he > she else "F"
    return None


def as_first_person(text: str, lexicon: Lexicon) -> str:
    """The message retold in the first person, for reading one written about someone else."""
    pattern = lexicon.patient.pronouns
    if pattern is None:
        return text
    targets = lexicon.patient.pronoun_targets
    return pattern.sub(lambda found: targets.get(found.group(0), found.group(0)), text)
