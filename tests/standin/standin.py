"""``BotApiStandIn``: a local Telegram for end-to-end tests.

The bot under test talks to it over real HTTP (``base_url=standin.base_url``); the test plays
the human (``push_text``, ``press_button``, ...), reads what the bot did (``messages``,
``calls``, ``documents``) and waits for outcomes (``wait_for_message``) instead of sleeping.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import aiohttp

from .errors import BLOCKED_BY_USER
from .faults import DelayInjection, FaultPlan, Injection
from .media import DEFAULT_PHOTO_SIZE, image_size
from .methods import BotApiMethods
from .records import (
    AnsweredCallback,
    Call,
    ChatState,
    PendingCallback,
    SentMessage,
    StoredFile,
)
from .schema import ApiSpec
from .server import BotApiHttp
from .state import World
from .updates import (
    JSON,
    bot_identity,
    callback_query,
    chat_member,
    human,
    message,
    sticker,
    text_content,
)

T = TypeVar("T")
TextMatch = str | Callable[[str], bool] | None
KICKED_FROM_GROUP = "Forbidden: bot was kicked from the group chat"
DEFAULT_GROUP_MEMBER_ID = 1001
# 1x1 transparent PNG: the default picture a user "sends" with push_photo.
TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000b49444154789c6360000200000500017a5eab3f0000000049454e44ae426082"
)


class StandInTimeout(AssertionError):
    """A wait ran out; the message lists the bot's last calls to show what it did instead."""


class BotApiStandIn:
    """A local Bot API server plus the human side of the conversation.

    Use ``async with BotApiStandIn(token, api_spec=path) as standin:``; pass ``api_spec=None``
    (or a missing path) to skip the published-spec checks.
    """

    def __init__(
        self,
        token: str = "123:ABC",
        api_spec: Path | None = None,
        *,
        bot_username: str = "psoas_test_bot",
        bot_name: str = "Psoas Test Bot",
    ) -> None:
        self.token = token
        self.spec = ApiSpec.load(api_spec)
        self._world = World(bot_identity(token, bot_username, bot_name))
        self._faults = FaultPlan()
        self._http = BotApiHttp(token, self._world, BotApiMethods(self._world), self._faults, self.spec)

    # ---------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> BotApiStandIn:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        await self._http.start()

    async def stop(self) -> None:
        await self._http.stop()

    @property
    def base_url(self) -> str:
        """PTB's ``base_url``: it requests ``{base_url}{token}/{method}``."""
        return f"{self._http.root}/bot"

    @property
    def file_base_url(self) -> str:
        """PTB's ``base_file_url`` for downloading what getFile points at."""
        return f"{self._http.root}/file/bot"

    @property
    def bot_user(self) -> JSON:
        """The bot's User object (getMe)."""
        return dict(self._world.bot)

    # ------------------------------------------------------------ the human side

    def add_user(self, chat_id: int, **fields: Any) -> JSON:
        """Make a private chat known without an update (as if the user had started the bot).

        Sending to a chat the stand-in has never seen answers ``chat not found``.
        """
        return dict(self._world.private_chat(chat_id, fields or None).user)

    async def push_text(self, chat_id: int, text: str, user: JSON | None = None) -> int:
        """The user writes ``text`` in the private chat ``chat_id`` (= their user id)."""
        chat = self._world.private_chat(chat_id, user)
        return self._push_message(chat, chat.user, text_content(text))

    async def push_command(self, chat_id: int, command: str, user: JSON | None = None) -> int:
        """The user sends a command such as ``"/start"`` or ``"/start payload"``."""
        if not command.startswith("/"):
            raise ValueError(f"a command starts with '/': {command!r}")
        return await self.push_text(chat_id, command, user)

    async def push_sticker(self, chat_id: int, emoji: str = "👍") -> int:
        chat = self._world.private_chat(chat_id)
        file_id, _ = self._world.new_file_id("sticker")
        return self._push_message(chat, chat.user, {"sticker": sticker(file_id, emoji)})

    async def push_photo(self, chat_id: int, data: bytes = TINY_PNG, caption: str | None = None) -> int:
        """The user sends a photo; the bot can fetch its bytes with getFile."""
        chat = self._world.private_chat(chat_id)
        width, height = image_size(data) or DEFAULT_PHOTO_SIZE
        file_id, unique_id = self._world.new_file_id("photo")
        stored = StoredFile(file_id, unique_id, "photo", chat_id, None, data, mime_type="image/png")
        content = {"photo": self._world.register_photo(stored, width, height), "caption": caption}
        return self._push_message(chat, chat.user, content)

    async def push_edited_message(self, chat_id: int, message_id: int, text: str) -> int:
        """The user edits one of their earlier messages."""
        chat = self._world.private_chat(chat_id)
        if message_id not in chat.user_messages:
            raise ValueError(f"chat {chat_id} has no user message {message_id}")
        edited = {**chat.user_messages[message_id], "edit_date": self._world.now()}
        edited.pop("entities", None)
        edited.update({k: v for k, v in text_content(text).items() if v is not None})
        chat.user_messages[message_id] = edited
        return self._world.enqueue({"edited_message": edited})

    async def push_group_text(
        self,
        group_chat_id: int,
        text: str,
        user: JSON | None = None,
        title: str = "Test group",
    ) -> int:
        """A member writes in a group chat (ids of groups are negative on Telegram)."""
        sender = human(DEFAULT_GROUP_MEMBER_ID, user)
        chat = self._world.group(group_chat_id, title, sender)
        return self._push_message(chat, sender, text_content(text))

    async def push_my_chat_member(self, chat_id: int, old_status: str, new_status: str) -> int:
        """The bot's membership changes, e.g. ``"member" -> "kicked"`` when the user blocks it.

        The chat's state follows: after ``kicked`` every send to it answers 403 until a later
        change back to ``member`` (the user pressed Start again).
        """
        chat = self._world.chats.get(chat_id) or self._world.private_chat(chat_id)
        bot = {k: self._world.bot[k] for k in ("id", "is_bot", "first_name", "username")}
        if new_status in ("kicked", "left"):
            chat.block_reason = BLOCKED_BY_USER if chat.is_private else KICKED_FROM_GROUP
        elif new_status in ("member", "administrator", "creator", "restricted"):
            chat.block_reason = None
        update = {
            "my_chat_member": {
                "chat": dict(chat.chat),
                "from": dict(chat.user),
                "date": self._world.now(),
                "old_chat_member": chat_member(old_status, bot),
                "new_chat_member": chat_member(new_status, bot),
            }
        }
        return self._world.enqueue(update)

    async def press_button(
        self,
        chat_id: int,
        message_id: int,
        callback_data: str,
        user: JSON | None = None,
        *,
        strict: bool = True,
    ) -> str:
        """The user taps an inline button; returns the callback_query id.

        With ``strict`` (default) the message must currently show a button with that
        callback_data, since a user can only tap what they see.
        """
        chat = self._world.private_chat(chat_id, user) if chat_id > 0 else self._chat(chat_id)
        shown = chat.bot_messages.get(message_id)
        if shown is None:
            raise ValueError(f"the bot has no message {message_id} in chat {chat_id}")
        offered = [data for row in shown.buttons for _, data in row]
        if strict and callback_data not in offered:
            raise ValueError(f"message {message_id} offers no button {callback_data!r}: {offered}")
        query_id = self._world.new_callback_query_id()
        self._world.pending_callbacks[query_id] = PendingCallback(
            query_id, chat_id, message_id, callback_data, time.monotonic()
        )
        sender = chat.user if user is None else {**chat.user, **user}
        query = callback_query(query_id, sender, copy.deepcopy(shown.raw), callback_data)
        self._world.enqueue({"callback_query": query})
        return query_id

    async def press_button_labelled(self, chat_id: int, label: str, message_id: int | None = None) -> str:
        """Tap the button whose text is (or contains) ``label`` on the newest message with it."""
        candidates = [m for m in self.messages(chat_id) if message_id in (None, m.message_id)]
        for shown in reversed(candidates):
            try:
                data = shown.callback_data_for(label)
            except LookupError:
                continue
            return await self.press_button(chat_id, shown.message_id, data)
        raise LookupError(f"no button {label!r} in chat {chat_id}")

    async def push_raw_update(self, update: JSON) -> int:
        """Queue any update as given (``update_id`` is assigned when missing)."""
        return self._world.enqueue(copy.deepcopy(update))

    def _push_message(self, chat: ChatState, sender: JSON, content: JSON) -> int:
        message_id = chat.next_message_id()
        body = message(message_id, dict(chat.chat), dict(sender), self._world.now(), **content)
        chat.user_messages[message_id] = body
        return self._world.enqueue({"message": body})

    # ------------------------------------------------------------------ readers

    def messages(self, chat_id: int) -> list[SentMessage]:
        """The bot's messages in the chat as they look now (edits applied), oldest first."""
        chat = self._world.chats.get(chat_id)
        return sorted(chat.bot_messages.values(), key=lambda m: m.message_id) if chat else []

    def last_message(self, chat_id: int) -> SentMessage | None:
        found = self.messages(chat_id)
        return found[-1] if found else None

    def chat(self, chat_id: int) -> ChatState:
        """Everything about one chat, including the user's messages and the reply keyboard."""
        return self._chat(chat_id)

    def calls(self, method: str | None = None) -> list[Call]:
        """Every bot request in arrival order (including failed ones), optionally one method."""
        if method is None:
            return list(self._world.calls)
        return [c for c in self._world.calls if c.method.lower() == method.lower()]

    def documents(self, chat_id: int) -> list[StoredFile]:
        return [f for f in self._chat_files(chat_id) if f.kind == "document"]

    def photos(self, chat_id: int) -> list[StoredFile]:
        return [f for f in self._chat_files(chat_id) if f.kind == "photo"]

    def answered_callbacks(self) -> list[AnsweredCallback]:
        return list(self._world.answered_callbacks)

    def unanswered_callbacks(self) -> list[PendingCallback]:
        """Button presses the bot never answered (the user's client shows a spinner)."""
        return list(self._world.pending_callbacks.values())

    def pending_updates(self) -> list[JSON]:
        """Updates not yet confirmed by the bot (getUpdates with a higher offset)."""
        return copy.deepcopy(self._world.updates)

    def dropped_updates(self) -> list[JSON]:
        """Updates Telegram would not have sent because of the bot's allowed_updates."""
        return copy.deepcopy(self._world.dropped_updates)

    def commands(self, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        """The command list set for a scope (default scope) and language."""
        key = self._world.commands_key(scope, language_code)
        return list(self._world.commands.get(key, []))

    @property
    def webhook(self) -> JSON:
        """The registered webhook (url, secret_token, ...); empty when none."""
        return dict(self._world.webhook)

    @property
    def polling(self) -> bool:
        """True while a getUpdates call is being held open (the bot is long polling)."""
        return self._world.waiting_polls > 0

    def mark(self) -> int:
        """A point in time for ``since=``: later messages and calls have a larger ``seq``."""
        return self._world.seq

    def _chat(self, chat_id: int) -> ChatState:
        chat = self._world.chats.get(chat_id)
        if chat is None:
            raise KeyError(f"the stand-in knows no chat {chat_id}")
        return chat

    def _chat_files(self, chat_id: int) -> list[StoredFile]:
        chat = self._world.chats.get(chat_id)
        return list(chat.files) if chat else []

    # ------------------------------------------------------------------ waiting

    async def wait_for(
        self,
        predicate: Callable[[], T | None],
        timeout: float = 5.0,
        *,
        what: str = "a condition",
    ) -> T:
        """Wait until ``predicate()`` returns something truthy, and return it.

        It is re-checked on every change (a bot call, a push), so this returns as soon as the
        outcome exists; after ``timeout`` seconds it fails with the bot's recent calls.
        """
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StandInTimeout(
                    f"timed out after {timeout}s waiting for {what}; "
                    f"the bot's last calls:\n{self.describe_calls()}"
                )
            await self._world.changed.wait(remaining)

    async def wait_for_message(
        self,
        chat_id: int,
        match: TextMatch = None,
        timeout: float = 5.0,
        *,
        since: int | None = None,
    ) -> SentMessage:
        """The newest bot message in the chat whose text matches (substring or predicate).

        ``since=standin.mark()`` only accepts messages sent or edited after that mark.
        """

        def found() -> SentMessage | None:
            for shown in reversed(self.messages(chat_id)):
                if since is not None and shown.changed_seq <= since:
                    continue
                if _text_matches(shown.text or "", match):
                    return shown
            return None

        return await self.wait_for(found, timeout, what=f"a message {match!r} in chat {chat_id}")

    async def wait_for_call(
        self,
        method: str,
        match: Callable[[Call], bool] | None = None,
        timeout: float = 5.0,
        *,
        since: int | None = None,
    ) -> Call:
        """The first call of ``method`` (after ``since``) for which ``match`` holds."""

        def found() -> Call | None:
            for call in self.calls(method):
                if (since is None or call.seq > since) and (match is None or match(call)):
                    return call
            return None

        return await self.wait_for(found, timeout, what=f"a {method} call")

    async def wait_for_updates_confirmed(self, timeout: float = 5.0) -> None:
        """Until the bot has confirmed (fetched past) every pushed update."""
        await self.wait_for(lambda: not self._world.updates, timeout, what="updates confirmed")

    def describe_calls(self, last: int = 15) -> str:
        """A readable tail of the call log for failure messages."""
        lines = []
        for call in self._world.calls[-last:]:
            outcome = "ok" if call.ok else f"{call.status} {call.error}"
            params = {k: v for k, v in call.params.items() if k != "reply_markup"}
            lines.append(f"  #{call.seq} {call.method} {params} -> {outcome}")
        return "\n".join(lines) or "  (none)"

    # ------------------------------------------------------------------- faults

    def inject(
        self,
        method: str,
        error_code: int = 403,
        description: str | None = None,
        times: int | None = 1,
        chat_id: int | None = None,
        retry_after: int | None = None,
    ) -> Injection:
        """Answer the next ``times`` calls of ``method`` ("*" = any) with an error.

        429 carries ``parameters.retry_after`` (default 1); descriptions default to Telegram's
        wording for the code. The returned object counts hits and their times.
        """
        return self._faults.add_error(method, error_code, description, times, chat_id, retry_after)

    def inject_delay(
        self,
        method: str,
        seconds: float,
        times: int | None = 1,
        chat_id: int | None = None,
        when: str = "before",
    ) -> DelayInjection:
        """Hang ``seconds`` before answering; ``when="after"`` does the work first."""
        if when not in ("before", "after"):
            raise ValueError("when is 'before' or 'after'")
        return self._faults.add_delay(DelayInjection(method, seconds, times, chat_id, when))

    @property
    def injections(self) -> list[Injection]:
        return list(self._faults.errors)

    def clear_faults(self) -> None:
        self._faults.clear()

    def block(self, chat_id: int) -> None:
        """The user blocked the bot: every send to this chat answers 403 until ``unblock``."""
        chat = self._world.chats.get(chat_id) or self._world.private_chat(chat_id)
        chat.block_reason = BLOCKED_BY_USER if chat.is_private else KICKED_FROM_GROUP

    def unblock(self, chat_id: int) -> None:
        self._chat(chat_id).block_reason = None

    # ------------------------------------------------------------------ webhook

    async def deliver_to_webhook(self, url: str, update: JSON, secret_token: str | None = None) -> int:
        """POST one update to the bot's webhook as Telegram does; return the HTTP status."""
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret_token} if secret_token else {}
        timeout = aiohttp.ClientTimeout(total=30)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(url, json=update, headers=headers) as response,
        ):
            return response.status

    async def deliver_pending_to_webhook(self) -> list[int]:
        """Deliver queued updates to the registered webhook, in order, until one fails.

        Delivered updates (2xx) leave the queue, like Telegram; a failure stops the round and
        keeps the rest queued.
        """
        hook = self._world.webhook
        if not hook.get("url"):
            raise RuntimeError("no webhook is set (the bot has not called setWebhook)")
        statuses: list[int] = []
        while self._world.updates:
            update = self._world.updates[0]
            status = await self.deliver_to_webhook(hook["url"], update, hook.get("secret_token"))
            statuses.append(status)
            if not 200 <= status < 300:
                break
            self._world.updates.pop(0)
            self._world.tick()
        return statuses


def _text_matches(text: str, match: TextMatch) -> bool:
    if match is None:
        return True
    if isinstance(match, str):
        return match in text
    return bool(match(text))
