"""A local stand-in for the Telegram Bot API, for end-to-end tests of psoasbot.

Start it with ``async with BotApiStandIn(api_spec=path) as standin`` and point the bot at
``standin.base_url``; see ``BotApiStandIn`` for the human side, the readers and the faults.
"""

from .errors import ApiError
from .faults import DelayInjection, Injection
from .formatting import FormattedText, format_text
from .records import AnsweredCallback, Call, ChatState, PendingCallback, SentMessage, StoredFile
from .schema import ApiSpec
from .standin import TINY_PNG, BotApiStandIn, StandInTimeout

__all__ = [
    "TINY_PNG",
    "AnsweredCallback",
    "ApiError",
    "ApiSpec",
    "BotApiStandIn",
    "Call",
    "ChatState",
    "DelayInjection",
    "FormattedText",
    "Injection",
    "PendingCallback",
    "SentMessage",
    "StandInTimeout",
    "StoredFile",
    "format_text",
]
