"""Every language the bot speaks: which are present, which one a person gets, and the
checks that make adding one a matter of files.

A language is present when content/messages/<lang>.yaml exists. English
(`REFERENCE`) is the reference: every other language must have the same keys, the
same `{placeholders}` in each sentence and the plural forms its own rules use, and
each front's own wording (<lang>.<front>.yaml) wherever English has it. Nothing is
filled in from English at run time: a missing translation stops start-up with the
file and key named, which is what `psoasbot validate` prints.

Which language a person gets: the one they chose with /language; else the one their
app reports (Telegram's `language_code`, matched on its first part, so "de-AT" gets
German); else the bot's default (PSOASBOT_LANGUAGE).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Formatter
from typing import TYPE_CHECKING, Final

from babel import Locale, UnknownLocaleError

from bot.core.clock import ZoneAliases
from bot.core.messages import FORMATS_KEY, Messages

if TYPE_CHECKING:
    from bot.core.content import Content
    from bot.core.ports import Tx
    from bot.core.understanding import Lexicon

REFERENCE: Final = "en"
"""The language every other one is checked against."""
PLURAL_CATEGORIES: Final = frozenset({"zero", "one", "two", "few", "many", "other"})
LABEL_LIMIT: Final = 30
"""Characters a button label may have: longer ones are cut off on a phone."""
OPTIONAL_KEYS: Final = frozenset({FORMATS_KEY})
"""Keys a language may leave out (the CLDR formats default to the language itself)."""
_MARKUP = re.compile(r"</?[A-Za-z][^<>]*>|&(?:[A-Za-z][A-Za-z0-9]*|#[0-9]+|#x[0-9A-Fa-f]+);")

Entry = str | tuple[str, ...]


@dataclass(frozen=True)
class Language:
    """One language's side of the content: its sentences (with the front's own wording
    laid over them), the words it uses for times and places, and its text reader."""

    code: str
    messages: Messages
    zone_aliases: ZoneAliases
    lexicon: Lexicon


def present(root: Path) -> list[str]:
    """The languages whose messages file exists, English first, then by code."""
    folder = root / "messages"
    codes = sorted(path.stem for path in folder.glob("*.yaml") if "." not in path.stem)
    return sorted(codes, key=lambda code: (code != REFERENCE, code))


def match(tag: str | None, available: Sequence[str]) -> str | None:
    """The available language for a tag such as "de", "de-AT" or "pt_BR": the same one,
    else the one its first part names, else one of the same first part ("pt" -> "pt_BR");
    None when there is none."""
    if not tag:
        return None
    wanted = tag.strip().replace("-", "_").casefold()
    by_fold = {code.casefold(): code for code in available}
    if wanted in by_fold:
        return by_fold[wanted]
    base = wanted.split("_")[0]
    if base in by_fold:
        return by_fold[base]
    return next((code for code in available if code.casefold().split("_")[0] == base), None)


def pick(tag: str | None, available: Sequence[str], default: str) -> str:
    """`match`, or `default` when nothing matches (or no tag is given)."""
    return match(tag, available) or default


def user_language(tx: Tx, user_id: int, content: Content, reported: str | None = None) -> str:
    """The language to speak to a person in, within a unit of work.

    `reported` is what their app says now (Telegram's `language_code`; "" when it says
    nothing, which means the bot's default): it is stored, so reminders sent later use
    it too, but it never replaces a language the person chose with /language.
    """
    if reported is not None:
        tx.users.set_language(user_id, content.pick_language(reported), chosen=False)
    return content.pick_language(tx.users.language(user_id))


# ---------------------------------------------------------------- checks


def babel_problem(code: str, entries: Mapping[str, Entry]) -> str | None:
    """Why CLDR cannot format this language, or None: plural rules, dates and numbers all
    come from it, so a code it does not know is refused."""
    formats = entries.get(FORMATS_KEY)
    for name in (code, formats if isinstance(formats, str) else None):
        if name is None:
            continue
        try:
            Locale.parse(name.replace("-", "_"))
        except (UnknownLocaleError, ValueError):
            return f"{name!r} is not a language CLDR knows; use a code like de, es or pt_BR"
    return None


SETTINGS: Final = {"language.labels_in_lists": ("lower", "keep")}
"""Keys of a messages file that choose how the bot writes rather than what it says."""


def setting_problems(entries: Mapping[str, Entry]) -> list[tuple[str, str]]:
    """A setting translated instead of chosen ("minúsculas" for "lower") is refused."""
    return [
        (key, f"must be one of {list(choices)}, not {entries[key]!r}")
        for key, choices in SETTINGS.items()
        if key in entries and entries[key] not in choices
    ]


def plural_groups(entries: Mapping[str, Entry]) -> dict[str, dict[str, Entry]]:
    """Keys written once per plural category ({one: ..., other: ...}), by their stem: every
    key under the stem is a category, `other` among them (so the options female, male and
    other of a question are not one)."""
    children: dict[str, dict[str, Entry]] = {}
    for key, value in entries.items():
        stem, _, last = key.rpartition(".")
        if stem:
            children.setdefault(stem, {})[last] = value
    below = {key.rpartition(".")[0].rpartition(".")[0] for key in entries}
    return {
        stem: forms
        for stem, forms in children.items()
        if "other" in forms and set(forms) <= PLURAL_CATEGORIES and stem not in below
    }


def used_categories(code: str, entries: Mapping[str, Entry]) -> frozenset[str]:
    """The plural categories this language's whole numbers up to 1,000 fall into (Spanish
    "many" is for millions, so it is not asked for)."""
    formats = entries.get(FORMATS_KEY)
    locale = Locale.parse((formats if isinstance(formats, str) else code).replace("-", "_"))
    return frozenset(str(locale.plural_form(number)) for number in range(0, 1001))


def placeholders(value: Entry) -> set[str]:
    """The `{names}` a sentence fills in; ValueError for a broken one ("{name", "}")."""
    texts = value if isinstance(value, tuple) else (value,)
    return {name for text in texts for _, name, _, _ in Formatter().parse(text) if name is not None}


def parity_problems(
    code: str,
    reference: Mapping[str, Entry],
    entries: Mapping[str, Entry],
    reference_name: str,
) -> list[tuple[str, str]]:
    """(key, problem) for every way `entries` differs from English: a missing or extra key,
    a different set of placeholders, a list where English has a sentence, or a plural
    form the language's own rules need."""
    problems: list[tuple[str, str]] = []
    ref_groups, own_groups = plural_groups(reference), plural_groups(entries)
    in_group = {
        f"{stem}.{form}"
        for groups in (ref_groups, own_groups)
        for stem, forms in groups.items()
        for form in forms
    }
    needed = used_categories(code, entries) | {"other"}
    for stem, forms in ref_groups.items():
        own = own_groups.get(stem)
        if own is None:
            if not any(key.startswith(f"{stem}.") for key in entries):
                problems.append((stem, f"missing (in {reference_name}; one sentence per plural form)"))
            else:
                problems.append((stem, "needs an `other` form, as every plural sentence does"))
            continue
        for form in sorted(needed - set(own), key=_category_order):
            problems.append(
                (f"{stem}.{form}", f"missing (this language's plural rules use the {form!r} form)")
            )
        problems += _placeholder_problem(stem, _union(forms.values()), _union(own.values()), reference_name)
    for stem in own_groups.keys() - ref_groups.keys():
        problems.append((stem, f"not in {reference_name}"))
    for key in sorted(reference.keys() - entries.keys() - in_group - OPTIONAL_KEYS):
        problems.append((key, f"missing (in {reference_name})"))
    for key in sorted(entries.keys() - reference.keys() - in_group - OPTIONAL_KEYS):
        problems.append((key, f"not in {reference_name} (a typo, or a key it no longer has)"))
    for key in sorted((reference.keys() & entries.keys()) - in_group):
        if isinstance(reference[key], tuple) != isinstance(entries[key], tuple):
            shape = "a list of sentences" if isinstance(reference[key], tuple) else "one sentence"
            problems.append((key, f"should be {shape}, as in {reference_name}"))
            continue
        problems += _placeholder_problem(key, _names(reference[key]), _names(entries[key]), reference_name)
    return problems


def markup_problems(entries: Mapping[str, Entry]) -> list[tuple[str, str]]:
    """Messages are plain text (every front escapes them, and Telegram's front makes the
    titles bold itself), so HTML markup in one would show up as typed, tags and all; a
    placeholder that cannot be parsed would stop the sentence from being sent."""
    problems: list[tuple[str, str]] = []
    for key, value in entries.items():
        texts = value if isinstance(value, tuple) else (value,)
        for text in texts:
            found = _MARKUP.search(text)
            if found is not None:
                problems.append(
                    (
                        key,
                        f"HTML markup {found.group(0)!r}: messages are plain text and would show it as "
                        "typed (write the words only; the bot adds its own formatting)",
                    )
                )
                break
            try:
                placeholders(text)
            except ValueError as error:
                problems.append((key, f"broken placeholder: {error} (write {{name}}, or {{{{ for a brace)"))
                break
    return problems


def label_problems(labels: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Button labels longer than a phone shows; `labels` are (key, label as shown)."""
    return [
        (key, f"button label {label!r} has {len(label)} characters; at most {LABEL_LIMIT} fit on a phone")
        for key, label in labels
        if len(label) > LABEL_LIMIT
    ]


def _names(value: Entry) -> set[str] | None:
    try:
        return placeholders(value)
    except ValueError:
        return None  # reported by markup_problems


def _union(values: Iterable[Entry]) -> set[str] | None:
    found: set[str] = set()
    for value in values:
        names = _names(value)
        if names is None:
            return None
        found |= names
    return found


def _placeholder_problem(
    key: str, wanted: set[str] | None, given: set[str] | None, reference_name: str
) -> list[tuple[str, str]]:
    if wanted is None or given is None or wanted == given:
        return []
    parts = []
    if wanted - given:
        parts.append("lacks " + ", ".join(f"{{{name}}}" for name in sorted(wanted - given)))
    if given - wanted:
        extra = ", ".join(f"{{{name}}}" for name in sorted(given - wanted))
        parts.append(f"has {extra}, which {reference_name} does not")
    return [(key, f"placeholders differ from {reference_name}: " + "; ".join(parts))]


def _category_order(category: str) -> int:
    return ("zero", "one", "two", "few", "many", "other").index(category)
