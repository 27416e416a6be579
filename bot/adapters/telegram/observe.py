"""Telegram's side of the bot's telemetry: what kind an update is, and every Bot API call's
outcome, seen in one place.

Every Bot API call but getUpdates passes through the bot's rate limiter (python-telegram-bot
routes them there), so wrapping the limiter sees each call's answer without touching the
code that makes the calls: errors are counted by status, and a call accepted while an
update is being handled marks when that update's reply got through.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Update
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import BaseRateLimiter

from bot.ops import trace
from bot.ops.telemetry import Telemetry

JSONResult = bool | dict[str, Any] | list[dict[str, Any]]
_STATUS_IN_MESSAGE = re.compile(r"\((\d{3})\)")


def update_kind(update: Update) -> str:
    """command, text, media, button, edited, membership or other: the label on the metrics."""
    if update.callback_query is not None:
        return "button"
    if update.my_chat_member is not None:
        return "membership"
    if update.edited_message is not None:
        return "edited"
    message = update.message
    if message is None:
        return "other"
    if message.text is not None:
        return "command" if message.text.startswith("/") else "text"
    return "media"


def bot_api_status(error: TelegramError) -> str:
    """The HTTP status behind a python-telegram-bot error, as far as it can be known.

    A server error that came with a description (as Telegram's do) keeps no status code
    in python-telegram-bot's exception: that is "5xx". Transport failures that never
    got an answer are "network"; a call that ran out of time is "timeout".
    """
    if isinstance(error, RetryAfter):
        return "429"
    if isinstance(error, Forbidden):
        return "403"
    if isinstance(error, InvalidToken):
        return "401"
    if isinstance(error, Conflict):
        return "409"
    if isinstance(error, BadRequest | ChatMigrated):
        return "400"
    if isinstance(error, TimedOut):
        return "timeout"
    if isinstance(error, NetworkError):
        message = str(error)
        found = _STATUS_IN_MESSAGE.search(message)
        if found:
            return found.group(1)
        # How python-telegram-bot's httpx request class, and an aiohttp one, word a failure
        # that never got an answer from the server.
        if message.startswith(("httpx.", "aiohttp.", "Unknown error in HTTP implementation")):
            return "network"
        return "5xx"
    return "other"


def is_harmless(error: TelegramError) -> bool:
    """An edit that changed nothing: the screen already shows it (delivery treats it as done)."""
    return isinstance(error, BadRequest) and "not modified" in str(error).lower()


class ObservedLimiter(BaseRateLimiter[dict[str, Any]]):
    """Passes every call to the real limiter and tells telemetry how it went."""

    def __init__(self, inner: BaseRateLimiter[dict[str, Any]], telemetry: Telemetry) -> None:
        self.inner = inner
        self.telemetry = telemetry

    async def initialize(self) -> None:
        await self.inner.initialize()

    async def shutdown(self) -> None:
        await self.inner.shutdown()

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSONResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: dict[str, Any] | None,
    ) -> JSONResult:
        try:
            result = await self.inner.process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
        except TelegramError as error:
            if not is_harmless(error):
                self.telemetry.bot_api_error(bot_api_status(error))
            raise
        trace.note_reply_accepted()
        return result
