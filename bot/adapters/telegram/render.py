"""Replies as Telegram messages: HTML text, inline keyboards, safe lengths.

Text from the core is plain; it is escaped here and the title is made bold.
Anything longer than Telegram's limit is split at paragraph boundaries (then
at line ends, then hard) so no single message is refused; the buttons go on
the last part, under the text they belong to.
"""

from __future__ import annotations

import html

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import MessageLimit

from bot.core.replies import Reply

LIMIT = MessageLimit.MAX_TEXT_LENGTH  # 4096; measured on the escaped text, which is never shorter


def html_text(reply: Reply) -> str:
    body = html.escape(reply.text, quote=False)
    if reply.title:
        return f"<b>{html.escape(reply.title, quote=False)}</b>\n\n{body}"
    return body


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(button.label, callback_data=button.data) for button in row]
            for row in reply.buttons
        ]
    )


def split_message(text: str, limit: int = LIMIT) -> list[str]:
    """Split at paragraph breaks, then line breaks, then anywhere, each part within `limit`.

    Never splits inside an HTML tag or entity: the only markup is the bold title
    at the start, and entities are short, so cuts fall between them.
    """
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for paragraph in text.split("\n\n"):
        candidate = f"{current}\n\n{paragraph}" if current else paragraph
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            parts.append(current)
        current = ""
        for piece in _split_long(paragraph, limit):
            if len(piece) == limit:
                parts.append(piece)
            else:
                current = piece
    if current:
        parts.append(current)
    return parts


def _split_long(paragraph: str, limit: int) -> list[str]:
    if len(paragraph) <= limit:
        return [paragraph]
    pieces: list[str] = []
    current = ""
    for line in paragraph.split("\n"):
        while len(line) > limit:
            cut = _safe_cut(line, limit)
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:cut])
            line = line[cut:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) <= limit:
            current = candidate
        else:
            pieces.append(current)
            current = line
    if current:
        pieces.append(current)
    return pieces


def _safe_cut(line: str, limit: int) -> int:
    """A cut point at or before `limit` that is not inside an &entity;."""
    cut = limit
    amp = line.rfind("&", max(0, cut - 8), cut)
    if amp != -1 and ";" not in line[amp:cut]:
        cut = amp
    space = line.rfind(" ", max(0, cut - 200), cut)
    return space + 1 if space > 0 else cut
