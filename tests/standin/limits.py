"""Telegram's documented content limits, checked the way Telegram answers them.

Why: a real bot fails in production on a 4,097-character message or 65-byte callback data,
never in a test against a permissive fake. The numbers come from python-telegram-bot's
``telegram.constants`` so they follow the library the bot is built on; the error wording is
Telegram's where it is known (see the report at the end of the work for the uncertain ones).
"""

from __future__ import annotations

import re
from typing import Any

from telegram.constants import (
    BotCommandLimit,
    CallbackQueryLimit,
    ChatAction,
    InlineKeyboardButtonLimit,
    InlineKeyboardMarkupLimit,
    MessageLimit,
)

from .errors import bad_request
from .formatting import FormattedText

# The fields of InlineKeyboardButton of which exactly one must be used.
BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
COMMAND_RE = re.compile(r"[a-z0-9_]+")
MIN_COMMAND_DESCRIPTION = 1


def check_message_text(text: FormattedText) -> None:
    """Text messages: 1-4096 characters after entity parsing, not only whitespace."""
    if not text.text.strip():
        raise bad_request("message text is empty")
    if text.length > MessageLimit.MAX_TEXT_LENGTH:
        raise bad_request("message is too long")


def check_caption(caption: FormattedText) -> None:
    """Media captions: 0-1024 characters after entity parsing."""
    if caption.length > MessageLimit.CAPTION_LENGTH:
        raise bad_request("message caption is too long")


def check_reply_markup(markup: Any) -> None:
    """Reject keyboards Telegram would refuse; only inline keyboards have detailed rules."""
    if markup is None:
        return
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        check_inline_keyboard(markup["inline_keyboard"])
    elif "keyboard" in markup:
        _check_reply_keyboard(markup["keyboard"])
    elif not markup.get("remove_keyboard") and not markup.get("force_reply"):
        raise bad_request("can't parse reply keyboard markup JSON object")


def check_inline_keyboard(rows: Any) -> None:
    """An inline keyboard: rows of buttons, each with text and exactly one action."""
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(
            'can\'t parse inline keyboard markup: Field "inline_keyboard" must be of type Array'
        )
    buttons = [button for row in rows for button in row]
    if len(buttons) > InlineKeyboardMarkupLimit.TOTAL_BUTTON_NUMBER or any(
        len(row) > InlineKeyboardMarkupLimit.BUTTONS_PER_ROW for row in rows
    ):
        raise bad_request("reply markup is too long")
    for button in buttons:
        check_inline_button(button)


def check_inline_button(button: Any) -> None:
    """One inline button: text present and non-empty, exactly one action, valid callback_data."""
    if not isinstance(button, dict) or "text" not in button:
        raise bad_request("can't parse inline keyboard button: Can't find field \"text\"")
    if not isinstance(button["text"], str) or not button["text"].strip():
        raise bad_request("BUTTON_TEXT_INVALID")
    actions = [name for name in BUTTON_ACTIONS if name in button]
    if not actions:
        raise bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if len(actions) > 1:
        raise bad_request(
            "can't parse inline keyboard button: exactly one of the optional fields must be "
            f"used, found {', '.join(actions)}"
        )
    if "callback_data" in button:
        check_callback_data(button["callback_data"])


def check_callback_data(data: Any) -> None:
    """callback_data: a string of 1-64 bytes in UTF-8 (bytes, not characters)."""
    size = len(data.encode("utf-8")) if isinstance(data, str) else -1
    if not (
        InlineKeyboardButtonLimit.MIN_CALLBACK_DATA <= size <= InlineKeyboardButtonLimit.MAX_CALLBACK_DATA
    ):
        raise bad_request("BUTTON_DATA_INVALID")


def _check_reply_keyboard(rows: Any) -> None:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request("can't parse reply keyboard markup JSON object")
    for button in (button for row in rows for button in row):
        text = button.get("text") if isinstance(button, dict) else button
        if not isinstance(text, str) or not text:
            raise bad_request('can\'t parse keyboard button: Field "text" must be of type String')


def check_callback_answer_text(text: Any) -> None:
    """answerCallbackQuery text: 0-200 characters."""
    if text is not None and len(str(text)) > CallbackQueryLimit.ANSWER_CALLBACK_QUERY_TEXT_LENGTH:
        raise bad_request("MESSAGE_TOO_LONG")


def check_bot_commands(commands: Any) -> None:
    """setMyCommands: 1-100 commands of 1-32 chars [a-z0-9_], descriptions 1-256 chars."""
    if not isinstance(commands, list):
        raise bad_request("can't parse commands JSON object")
    if len(commands) > BotCommandLimit.MAX_COMMAND_NUMBER:
        raise bad_request("BOT_COMMANDS_TOO_MUCH")
    for command in commands:
        _check_bot_command(command)


def _check_bot_command(command: Any) -> None:
    if not isinstance(command, dict):
        raise bad_request("can't parse BotCommand: expected an object")
    for field in ("command", "description"):
        if field not in command:
            raise bad_request(f"can't parse BotCommand: Can't find field \"{field}\"")
    name, description = command["command"], command["description"]
    if (
        not isinstance(name, str)
        or not BotCommandLimit.MIN_COMMAND <= len(name) <= BotCommandLimit.MAX_COMMAND
        or not COMMAND_RE.fullmatch(name)
    ):
        raise bad_request("BOT_COMMAND_INVALID")
    if (
        not isinstance(description, str)
        or len(description.strip()) < MIN_COMMAND_DESCRIPTION
        or len(description) > BotCommandLimit.MAX_DESCRIPTION
    ):
        raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")


def check_chat_action(action: Any) -> None:
    """sendChatAction accepts only the documented actions."""
    if action not in {member.value for member in ChatAction}:
        raise bad_request("wrong parameter action in request")
