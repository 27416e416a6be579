"""What the stand-in remembers, in the shapes tests read.

Records handed to tests are frozen: an edit replaces a ``SentMessage`` instead of mutating it,
so a message a test fetched earlier stays a faithful snapshot of that moment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Button = tuple[str, str | None]


@dataclass(frozen=True)
class Call:
    """One request the bot made, successful or not, in arrival order.

    ``time`` is ``time.monotonic()`` at arrival, so gaps between attempts (a retry after a 429)
    can be measured; ``seq`` orders calls against messages (see ``BotApiStandIn.mark``).
    """

    seq: int
    method: str
    params: dict[str, Any]
    time: float
    wall_time: float
    status: int
    result: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def chat_id(self) -> Any:
        return self.params.get("chat_id")


@dataclass(frozen=True)
class SentMessage:
    """The current state of one message the bot sent (edits are applied in place)."""

    chat_id: int
    message_id: int
    kind: str  # "text", "photo" or "document"
    text: str | None  # the text, or the caption of a photo/document
    entities: tuple[dict[str, Any], ...]
    reply_markup: dict[str, Any] | None  # inline keyboard only; reply keyboards live on the chat
    raw: dict[str, Any]  # the Telegram Message object as last returned to the bot
    sent_seq: int
    changed_seq: int
    edit_count: int = 0

    @property
    def buttons(self) -> list[list[Button]]:
        """Inline keyboard as rows of ``(text, callback_data)``; url buttons have ``None``."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [[(b.get("text", ""), b.get("callback_data")) for b in row] for row in rows]

    @property
    def button_texts(self) -> list[str]:
        return [text for row in self.buttons for text, _ in row]

    def callback_data_for(self, label: str) -> str:
        """The callback_data of the button whose text equals (or else contains) ``label``."""
        flat = [button for row in self.buttons for button in row]
        for matches in (lambda t: t == label, lambda t: label in t):
            for text, data in flat:
                if matches(text) and data is not None:
                    return data
        raise LookupError(f"no callback button {label!r} on message {self.message_id}: {flat}")


@dataclass(frozen=True)
class StoredFile:
    """A document or photo: uploaded by the bot (with its bytes) or sent by the user."""

    file_id: str
    file_unique_id: str
    kind: str  # "document" or "photo"
    chat_id: int | None
    message_id: int | None
    data: bytes | None  # None when the bot passed a URL the stand-in cannot fetch
    file_name: str | None = None
    mime_type: str | None = None
    caption: str | None = None
    url: str | None = None

    @property
    def file_path(self) -> str:
        return f"{self.kind}s/{self.file_unique_id}"


@dataclass(frozen=True)
class AnsweredCallback:
    """An answerCallbackQuery the bot made."""

    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None
    seq: int
    time: float


@dataclass(frozen=True)
class PendingCallback:
    """A button press waiting for the bot's answerCallbackQuery."""

    callback_query_id: str
    chat_id: int
    message_id: int
    data: str
    time: float


@dataclass
class ChatState:
    """One chat as Telegram would hold it: its members, messages and what the bot sent."""

    chat: dict[str, Any]  # Telegram Chat object
    user: dict[str, Any]  # the (default) human in this chat
    bot_messages: dict[int, SentMessage] = field(default_factory=dict)
    user_messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    files: list[StoredFile] = field(default_factory=list)
    reply_keyboard: dict[str, Any] | None = None  # the custom keyboard currently shown
    block_reason: str | None = None  # set while the user has blocked the bot (403 description)
    last_message_id: int = 0

    @property
    def chat_id(self) -> int:
        return int(self.chat["id"])

    @property
    def is_private(self) -> bool:
        return self.chat.get("type") == "private"

    @property
    def blocked(self) -> bool:
        return self.block_reason is not None

    def next_message_id(self) -> int:
        """Message ids are per chat and shared by both sides, as in private chats."""
        self.last_message_id += 1
        return self.last_message_id
