"""Free-text understanding: what a person's own words say about the answer keys.

The mechanism lives in this package; every word and regular expression of a
language lives in `content/understanding/<lang>.yaml` (see the header comment of
`en.yaml`), and how a reading counts per answer key, the same in every language,
in `content/understanding/keys.yaml`. The jobs:

- `lexicon`: load, check and compile a language's file;
- `document`: normalise a message and cut it into sentences;
- `spelling`: correct typos of danger words (rapidfuzz);
- `subject`: whom the message is about (the writer, or a relative);
- `context`: negation, the past, hypotheticals, other people, uncertainty;
- `flags`: the yes/no keys; `areas`: where it hurts and spreads;
- `quantities`: duration, pain score, age, sex;
- `answers`: a typed reply to the one question on screen.

`understand()` reads a whole message, every character of it, up to
`MAX_TEXT_CHARS` (longer text is refused by the fronts, never cut), in time
linear in its length.
"""

from __future__ import annotations

from datetime import date

from bot.core.answers import MAX_TEXT_CHARS
from bot.core.understanding.answers import (
    parse_age,
    parse_areas,
    parse_duration_weeks,
    parse_option,
    parse_pain_score,
    parse_unsure,
    parse_yes_no,
)
from bot.core.understanding.areas import scan_areas
from bot.core.understanding.document import normalise, split_sentences
from bot.core.understanding.findings import Findings
from bot.core.understanding.flags import scan_flags
from bot.core.understanding.lexicon import Lexicon, LexiconError, load_lexicon
from bot.core.understanding.quantities import pick_age, pick_duration, pick_pain, pick_sex
from bot.core.understanding.spelling import correct
from bot.core.understanding.subject import as_first_person, patient_of

__all__ = [
    "MAX_TEXT_CHARS",
    "Findings",
    "Lexicon",
    "LexiconError",
    "load_lexicon",
    "normalise",
    "parse_age",
    "parse_areas",
    "parse_duration_weeks",
    "parse_option",
    "parse_pain_score",
    "parse_unsure",
    "parse_yes_no",
    "understand",
]


def understand(text: str, lexicon: Lexicon, today: date | None = None) -> Findings:
    """Read a free-text message; `today` dates phrases such as "since christmas"."""
    if not isinstance(text, str) or not text.strip():
        return Findings()
    clean = normalise(text, lexicon)
    if not clean:
        return Findings()
    corrected, spans = correct(clean, lexicon)
    as_written = split_sentences(corrected, lexicon, spans)
    patient = patient_of(as_written, lexicon)
    doc = as_written
    if patient.proxy:
        # "she can't hold her wee" is read as "i can't hold my wee"; ages and sex are read
        # as written, where "she's 68" and the writer's own "I'm 45" stay apart.
        retold, retold_spans = correct(as_first_person(clean, lexicon), lexicon)
        doc = split_sentences(retold, lexicon, retold_spans)
    flags = scan_flags(doc, lexicon, patient)
    location, radiates = scan_areas(doc, lexicon)
    current, history = pick_duration(doc, lexicon, today or date.today())
    return Findings(
        flags=flags.values,
        uncertain=flags.uncertain,
        past=flags.past,
        pain_location=location,
        radiates_to=radiates,
        duration_weeks=current,
        history_weeks=history,
        pain_now=pick_pain(doc, lexicon),
        age=pick_age(as_written, lexicon, patient, today or date.today()),
        sex=pick_sex(as_written, lexicon, patient),
        proxy=patient.proxy,
    )
