"""What can be read off a regular expression's source without running it.

The flag scanner tries a pattern only where a word starts with text the pattern
must start with (see `leading_literals`), which makes scanning a long message
cheap; these helpers find that text, conservatively.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

_META: Final[str] = "\\.^$*+?{}[]|()"


def _skip_class(source: str, i: int) -> int:
    """Index just after the character class that starts at source[i] == '['."""
    i += 1
    if i < len(source) and source[i] == "^":
        i += 1
    if i < len(source) and source[i] == "]":
        i += 1
    while i < len(source) and source[i] != "]":
        i += 2 if source[i] == "\\" else 1
    return i + 1


def _skip_group(source: str, i: int) -> int:
    """Index just after the group that starts at source[i] == '('."""
    depth = 0
    while i < len(source):
        char = source[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":
            i = _skip_class(source, i)
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise ValueError("unbalanced group")


def _alternatives(source: str, i: int) -> tuple[list[int], int]:
    """Start indexes of the alternatives from i to the closing ')' or the end."""
    starts = [i]
    while i < len(source):
        char = source[i]
        if char == "\\":
            i += 2
        elif char == "[":
            i = _skip_class(source, i)
        elif char == "(":
            i = _skip_group(source, i)
        elif char == ")":
            return starts, i
        elif char == "|":
            i += 1
            starts.append(i)
        else:
            i += 1
    return starts, i


def _quantifier_end(source: str, i: int) -> tuple[int, bool]:
    """Skip a quantifier at source[i]; return the index after it and whether it allows zero."""
    if i >= len(source):
        return i, False
    char = source[i]
    if char in "?*+":
        end = i + 1
        if end < len(source) and source[end] in "?+":
            end += 1  # lazy or possessive
        return end, char != "+"
    if char == "{":
        close = source.find("}", i)
        body = source[i + 1 : close] if close > 0 else ""
        if close > 0 and re.fullmatch(r"\d*(?:,\d*)?", body) and body:
            end = close + 1
            if end < len(source) and source[end] == "?":
                end += 1
            return end, body.split(",")[0] in ("", "0")
    return i, False


def _lead(source: str, i: int) -> set[str] | None:
    """Literal texts one of which starts every match of the sequence at source[i:]."""
    while source.startswith(("\\b", "(?=", "(?!", "(?<=", "(?<!"), i):
        i = i + 2 if source[i] == "\\" else _skip_group(source, i)
    if i >= len(source) or source[i] in "|)":
        return None
    if source[i] == "(":
        end = _skip_group(source, i)
        if _quantifier_end(source, end)[1]:
            return None
        inner = i + 1
        if source.startswith("?:", inner):
            inner += 2
        elif source.startswith("?P<", inner):
            inner = source.index(">", inner) + 1
        elif source.startswith("?", inner):
            return None
        found: set[str] = set()
        for start in _alternatives(source, inner)[0]:
            literals = _lead(source, start)
            if literals is None:
                return None
            found |= literals
        return found
    literal = ""
    while i < len(source) and source[i] not in _META:
        if _quantifier_end(source, i + 1)[1]:
            break  # this character is optional
        literal += source[i]
        i += 1
    return {literal} if literal else None


def leading_literals(source: str) -> set[str] | None:
    """For a pattern that starts with \\b and plain text: the texts a match can start with.

    Conservative: None whenever that cannot be read off the pattern for certain; such
    patterns are searched in full instead of from the word-start index.
    """
    if not source.startswith("\\b"):
        return None
    try:
        found = _lead(source, 0)
    except (ValueError, IndexError):
        return None
    if not found or any(len(text) < 2 or not re.match(r"\w", text) for text in found):
        return None
    return found


def squash(text: str) -> str:
    return " ".join(text.lower().replace("-", " ").split())


def alternation(words: Sequence[str]) -> str:
    ordered = sorted(set(words), key=lambda word: (-len(word), word))
    return "|".join(r"\s+".join(re.escape(part) for part in word.split()) for word in ordered)
