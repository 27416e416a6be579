"""A test-only language: a copy of the content where one more language is English with every
letter swapped for a look-alike ("Where" -> "Ŵĥéřé").

It has every key, placeholder, plural form and front overlay English has, so it passes the
same checks a real translation must; and since no English word survives the swap, any run of
plain ASCII letters the bot shows a person in it is English that did not come from the
messages files. Commands (/check) and placeholders ({name}) stay as they are.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import yaml

from tests.support import copy_content_tree

LOOK_ALIKES = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "áƀçďéƒğĥíĵķľɱñóƥʠřšťúʋŵẋýžÁƁÇĎÉƑĞĤÍĴĶĽṀÑÓƤɊŘŠŤÚƲŴẊÝŽ",
)
_KEEP = re.compile(r"(\{[^{}]*\}|/[a-z_]+)")
ENGLISH_WORD = re.compile(r"[A-Za-z]{3,}")
PSEUDO_NAME = "Ďéúťšçĥ"


def pseudo(text: str) -> str:
    """English text in the look-alike letters; placeholders and /commands untouched."""
    return "".join(
        part if _KEEP.fullmatch(part) else part.translate(LOOK_ALIKES) for part in _KEEP.split(text)
    )


def _swap(value: Any) -> Any:
    if isinstance(value, str):
        return pseudo(value)
    if isinstance(value, list):
        return [_swap(item) for item in value]
    if isinstance(value, dict):
        return {key: _swap(item) for key, item in value.items()}
    return value


def _write(path: Path, data: Any) -> None:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=1000), encoding="utf-8")


def content_with_pseudo_language(target: Path, code: str = "de") -> Path:
    """Copy content/ and flows/ under `target` and add `code` as the look-alike language;
    returns the content folder. Its formats (dates, plural rules) are CLDR's for `code`."""
    content = copy_content_tree(target) / "content"
    messages = content / "messages"
    english = yaml.safe_load((messages / "en.yaml").read_text(encoding="utf-8"))
    swapped = _swap(english)
    swapped["language"] = {
        **swapped["language"],
        "name": PSEUDO_NAME,
        "labels_in_lists": english["language"]["labels_in_lists"],  # a setting, not words
    }
    swapped["language"].pop("formats", None)
    _write(messages / f"{code}.yaml", swapped)
    for overlay in messages.glob("en.*.yaml"):
        front = overlay.name.removeprefix("en.")
        _write(messages / f"{code}.{front}", _swap(yaml.safe_load(overlay.read_text(encoding="utf-8"))))
    # People type in it as in English: the same words for times, places and symptoms.
    shutil.copyfile(content / "clock" / "en.yaml", content / "clock" / f"{code}.yaml")
    shutil.copyfile(content / "understanding" / "en.yaml", content / "understanding" / f"{code}.yaml")
    return content


def english_words(text: str) -> list[str]:
    """Runs of three or more plain ASCII letters, outside /commands."""
    return ENGLISH_WORD.findall(re.sub(r"/[a-z_]+", "", text))
