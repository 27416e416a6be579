"""The stand-in's memory: chats, the update queue, the call log and a change signal.

Why one object: the HTTP side (the bot's calls) and the test side (the human's actions and the
assertions) share it, all on one event loop, so plain attributes need no locking. Every change
bumps ``seq`` and wakes waiters, which is what lets tests wait for an outcome instead of
sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from dataclasses import replace
from typing import Any

from .errors import ApiError, bad_request, forbidden
from .records import AnsweredCallback, Call, ChatState, PendingCallback, StoredFile
from .schema import missing_parameter
from .updates import JSON, group_chat, human, photo_sizes, private_chat, update_kind

# Telegram's default when allowed_updates is empty: everything except these.
NOT_SENT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_INT_RE = re.compile(r"-?\d+")


class Signal:
    """Wakes every waiter on each change; waiters then re-check their own condition."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        """Return on the next change or after ``timeout`` seconds, whichever comes first."""
        event = self._event
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), max(0.0, timeout))


class World:
    """Everything Telegram would know about this bot, its chats and its pending updates."""

    def __init__(self, bot: JSON) -> None:
        self.bot = bot
        self.chats: dict[int, ChatState] = {}
        self.updates: list[JSON] = []  # delivered-or-not, until confirmed by an offset
        self.dropped_updates: list[JSON] = []  # filtered out by allowed_updates
        self.last_update_id = 0
        self.allowed_updates: list[str] | None = None
        self.calls: list[Call] = []
        self.files: dict[str, StoredFile] = {}
        self.pending_callbacks: dict[str, PendingCallback] = {}
        self.answered_callbacks: list[AnsweredCallback] = []
        self.commands: dict[tuple[str, str], list[JSON]] = {}
        self.webhook: JSON = {}
        self.poll_generation = 0
        self.waiting_polls = 0  # getUpdates calls currently held open
        self.closing = False
        self.changed = Signal()
        self._seq = 0
        self._file_counter = 0
        self._query_counter = 0

    # ------------------------------------------------------------------ ordering

    @property
    def seq(self) -> int:
        return self._seq

    def tick(self) -> int:
        """A new point in the stand-in's history; wakes waiters."""
        self._seq += 1
        self.changed.notify()
        return self._seq

    def record(self, call: Call) -> None:
        self.calls.append(call)
        self.changed.notify()

    # --------------------------------------------------------------------- chats

    def private_chat(self, user_id: int, overrides: JSON | None = None) -> ChatState:
        """The private chat with this user, created on first contact."""
        if overrides and overrides.get("id", user_id) != user_id:
            raise ValueError("in a private chat the user id is the chat id")
        chat = self.chats.get(user_id)
        if chat is None:
            user = human(user_id, overrides)
            chat = self.chats[user_id] = ChatState(chat=private_chat(user), user=user)
        elif overrides:
            chat.user.update(overrides)
        return chat

    def group(self, chat_id: int, title: str, member: JSON) -> ChatState:
        chat = self.chats.get(chat_id)
        if chat is None:
            chat = self.chats[chat_id] = ChatState(chat=group_chat(chat_id, title), user=member)
        return chat

    def resolve_chat(self, raw: Any) -> ChatState:
        """The chat a request names; Telegram answers ``chat not found`` for strangers."""
        if raw is None or raw == "":
            raise missing_parameter("chat_id")
        if isinstance(raw, str) and _INT_RE.fullmatch(raw.strip()):
            raw = int(raw)
        chat = self.chats.get(raw) if isinstance(raw, int) else None
        if chat is None:
            raise bad_request("chat not found")
        return chat

    def chat_for_send(self, raw: Any) -> ChatState:
        """Like ``resolve_chat``, but a chat that blocked the bot answers 403."""
        chat = self.resolve_chat(raw)
        if chat.block_reason:
            raise forbidden(chat.block_reason)
        return chat

    # ------------------------------------------------------------------- updates

    def enqueue(self, body: JSON) -> int:
        """Queue an update (``body`` without ``update_id``); return its id.

        Like Telegram, an update of a type the bot did not ask for (``allowed_updates``) is
        never queued; it is kept in ``dropped_updates`` so a test can see why nothing came.
        """
        update = dict(body)
        update_id = update.get("update_id")
        if not isinstance(update_id, int):
            update_id = self.last_update_id + 1
        self.last_update_id = max(self.last_update_id, update_id)
        update = {"update_id": update_id, **{k: v for k, v in update.items() if k != "update_id"}}
        if self.is_wanted(update_kind(update)):
            self.updates.append(update)
        else:
            self.dropped_updates.append(update)
        self.tick()
        return update_id

    def is_wanted(self, kind: str) -> bool:
        if not self.allowed_updates:
            return kind not in NOT_SENT_BY_DEFAULT
        return kind in self.allowed_updates

    def confirm(self, offset: int | None) -> None:
        """getUpdates' offset: forget updates below it; a negative one keeps the last -offset."""
        if offset is None:
            return
        if offset < 0:
            self.updates = self.updates[offset:]
        else:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]

    def next_updates(self, limit: int) -> list[JSON]:
        return self.updates[: max(1, min(100, limit))]

    # --------------------------------------------------------------------- misc

    def new_file_id(self, kind: str) -> tuple[str, str]:
        self._file_counter += 1
        return f"standin-{kind}-{self._file_counter}", f"U{kind[:3]}{self._file_counter}"

    def register_photo(self, stored: StoredFile, width: int, height: int) -> list[JSON]:
        """Keep a photo (and its thumbnail id) fetchable by getFile; return its PhotoSizes."""
        sizes = photo_sizes(stored.file_id, stored.file_unique_id, width, height, len(stored.data or b""))
        for size in sizes:
            self.files.setdefault(
                size["file_id"],
                replace(stored, file_id=size["file_id"], file_unique_id=size["file_unique_id"]),
            )
        return sizes

    def new_callback_query_id(self) -> str:
        self._query_counter += 1
        return f"{self.bot['id']}{self._query_counter:08d}"

    def now(self) -> int:
        return int(time.time())

    @staticmethod
    def commands_key(scope: Any, language_code: Any) -> tuple[str, str]:
        """Commands are stored per (scope, language), as Telegram keeps separate lists."""
        scope = scope if isinstance(scope, dict) else {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(language_code or "")

    def conflict_if_webhook(self) -> None:
        if self.webhook.get("url"):
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
