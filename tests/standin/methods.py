"""The Bot API methods the stand-in implements, one small handler per method.

Each handler takes the decoded request, validates it like Telegram (limits, markup, chat),
changes the ``World`` and returns the ``result`` part of the answer, or raises ``ApiError``.
Handlers know nothing about HTTP, which keeps them readable and easy to extend.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from . import limits
from .errors import NOT_MODIFIED, QUERY_TOO_OLD, ApiError, bad_request
from .formatting import FormattedText, format_text
from .media import DEFAULT_PHOTO_SIZE, Upload, guess_mime_type, image_size, photo_problem
from .records import AnsweredCallback, ChatState, SentMessage, StoredFile
from .schema import missing_parameter
from .state import World
from .updates import JSON, sender_of

_SECRET_TOKEN_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def _always_connected() -> bool:
    return True


@dataclass(frozen=True)
class ApiRequest:
    """A decoded Bot API call: parameters with uploads resolved to ``Upload`` objects.

    ``client_connected`` tells a long poll whether anyone is still listening.
    """

    method: str
    params: dict[str, Any]
    client_connected: Callable[[], bool] = _always_connected

    def get(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)

    def require(self, name: str) -> Any:
        value = self.params.get(name)
        if value is None or value == "":
            raise missing_parameter(name)
        return value


Handler = Callable[[ApiRequest], Awaitable[Any]]


class BotApiMethods:
    """The implemented methods, looked up case-insensitively as Telegram does."""

    def __init__(self, world: World) -> None:
        self.world = world
        table: dict[str, Handler] = {
            "getMe": self.get_me,
            "getUpdates": self.get_updates,
            "sendMessage": self.send_message,
            "editMessageText": self.edit_message_text,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "deleteMessage": self.delete_message,
            "answerCallbackQuery": self.answer_callback_query,
            "sendPhoto": self.send_photo,
            "sendDocument": self.send_document,
            "sendChatAction": self.send_chat_action,
            "getFile": self.get_file,
            "setMyCommands": self.set_my_commands,
            "getMyCommands": self.get_my_commands,
            "deleteMyCommands": self.delete_my_commands,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info,
            "close": self.close,
            "logOut": self.log_out,
        }
        self._handlers = {name.lower(): (name, handler) for name, handler in table.items()}

    def lookup(self, method: str) -> tuple[str, Handler] | None:
        """The canonical method name and its handler."""
        return self._handlers.get(method.lower())

    # ----------------------------------------------------------------- identity

    async def get_me(self, request: ApiRequest) -> JSON:
        return dict(self.world.bot)

    async def close(self, request: ApiRequest) -> bool:
        return True

    async def log_out(self, request: ApiRequest) -> bool:
        return True

    # ------------------------------------------------------------------ updates

    async def get_updates(self, request: ApiRequest) -> list[JSON]:
        """Long polling: answer as soon as an update is queued, or with [] at the timeout.

        A second getUpdates while one is waiting ends the first with 409, as Telegram does when
        two bot instances poll the same token. A poll whose client hung up (PTB cancels its
        poll on shutdown) ends quietly instead, so it does not pollute the call log.
        """
        world = self.world
        world.conflict_if_webhook()
        allowed = request.get("allowed_updates")
        if isinstance(allowed, list):
            world.allowed_updates = [str(kind) for kind in allowed]
        world.confirm(_int_or_none(request.get("offset")))
        world.poll_generation += 1
        generation = world.poll_generation
        world.changed.notify()  # wakes an older poll so it can notice it was superseded
        limit = _int_or_none(request.get("limit")) or 100
        deadline = time.monotonic() + max(0.0, float(request.get("timeout") or 0))
        world.waiting_polls += 1
        world.changed.notify()
        try:
            while True:
                if not request.client_connected():
                    return []
                if world.poll_generation != generation:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; "
                        "make sure that only one bot instance is running",
                    )
                batch = world.next_updates(limit)
                remaining = deadline - time.monotonic()
                if batch or remaining <= 0 or world.closing:
                    return batch
                await world.changed.wait(remaining)
        finally:
            world.waiting_polls -= 1

    # ----------------------------------------------------------------- messages

    async def send_message(self, request: ApiRequest) -> JSON:
        text = format_text(
            _text_param(request.get("text")), request.get("parse_mode"), request.get("entities")
        )
        limits.check_message_text(text)
        markup = request.get("reply_markup")
        limits.check_reply_markup(markup)
        chat = self.world.chat_for_send(request.get("chat_id"))
        content: JSON = {"text": text.text, "entities": text.entities or None}
        return self._store(chat, "text", text, markup, content, request).raw

    async def edit_message_text(self, request: ApiRequest) -> JSON:
        """Replace text (and keyboard: omitting reply_markup removes it, as on Telegram)."""
        text = format_text(
            _text_param(request.get("text")), request.get("parse_mode"), request.get("entities")
        )
        limits.check_message_text(text)
        markup = _inline_markup_param(request)
        chat, message = self._message_to_edit(request)
        if message.kind != "text":
            raise bad_request("there is no text in the message to edit")
        if (
            message.text == text.text
            and list(message.entities) == text.entities
            and message.reply_markup == markup
        ):
            raise bad_request(NOT_MODIFIED)
        return self._apply_edit(chat, message, markup, text=text).raw

    async def edit_message_reply_markup(self, request: ApiRequest) -> JSON:
        markup = _inline_markup_param(request)
        chat, message = self._message_to_edit(request)
        if message.reply_markup == markup:
            raise bad_request(NOT_MODIFIED)
        return self._apply_edit(chat, message, markup).raw

    async def delete_message(self, request: ApiRequest) -> bool:
        chat = self.world.resolve_chat(request.get("chat_id"))
        message_id = _int_or_none(request.require("message_id"))
        if message_id in chat.bot_messages:
            del chat.bot_messages[message_id]
        elif message_id in chat.user_messages and chat.is_private:
            del chat.user_messages[message_id]
        else:
            raise bad_request("message to delete not found")
        self.world.tick()
        return True

    async def send_chat_action(self, request: ApiRequest) -> bool:
        limits.check_chat_action(request.require("action"))
        self.world.chat_for_send(request.get("chat_id"))
        return True

    # ------------------------------------------------------------------ buttons

    async def answer_callback_query(self, request: ApiRequest) -> bool:
        """Each query can be answered once; unknown or repeated ids are 'too old'."""
        query_id = str(request.require("callback_query_id"))
        limits.check_callback_answer_text(request.get("text"))
        if self.world.pending_callbacks.pop(query_id, None) is None:
            raise bad_request(QUERY_TOO_OLD)
        self.world.answered_callbacks.append(
            AnsweredCallback(
                callback_query_id=query_id,
                text=request.get("text"),
                show_alert=bool(request.get("show_alert", False)),
                url=request.get("url"),
                cache_time=_int_or_none(request.get("cache_time")),
                seq=self.world.tick(),
                time=time.monotonic(),
            )
        )
        return True

    # -------------------------------------------------------------------- files

    async def send_photo(self, request: ApiRequest) -> JSON:
        caption = self._caption(request)
        markup = request.get("reply_markup")
        limits.check_reply_markup(markup)
        stored = self._file_param(request, "photo")
        chat = self.world.chat_for_send(request.get("chat_id"))
        size = image_size(stored.data) if stored.data is not None else DEFAULT_PHOTO_SIZE
        if size is None:
            raise bad_request("IMAGE_PROCESS_FAILED")
        problem = photo_problem(len(stored.data), *size) if stored.data is not None else None
        if problem is not None:
            raise bad_request(problem)
        content = {"photo": self.world.register_photo(stored, *size), **_caption_fields(caption)}
        return self._store_with_file(chat, stored, caption, markup, content, request)

    async def send_document(self, request: ApiRequest) -> JSON:
        caption = self._caption(request)
        markup = request.get("reply_markup")
        limits.check_reply_markup(markup)
        stored = self._file_param(request, "document")
        chat = self.world.chat_for_send(request.get("chat_id"))
        if stored.data is not None and not stored.data:
            raise bad_request("file must be non-empty")
        document: JSON = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_name": stored.file_name,
            "mime_type": stored.mime_type,
            "file_size": len(stored.data or b""),
        }
        content = {"document": document, **_caption_fields(caption)}
        return self._store_with_file(chat, stored, caption, markup, content, request)

    async def get_file(self, request: ApiRequest) -> JSON:
        stored = self.world.files.get(str(request.require("file_id")))
        if stored is None:
            raise bad_request("invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data or b""),
            "file_path": stored.file_path,
        }

    # ----------------------------------------------------------------- commands

    async def set_my_commands(self, request: ApiRequest) -> bool:
        commands = request.require("commands")
        limits.check_bot_commands(commands)
        key = self.world.commands_key(request.get("scope"), request.get("language_code"))
        self.world.commands[key] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        self.world.tick()
        return True

    async def get_my_commands(self, request: ApiRequest) -> list[JSON]:
        key = self.world.commands_key(request.get("scope"), request.get("language_code"))
        return list(self.world.commands.get(key, []))

    async def delete_my_commands(self, request: ApiRequest) -> bool:
        key = self.world.commands_key(request.get("scope"), request.get("language_code"))
        self.world.commands.pop(key, None)
        self.world.tick()
        return True

    # ------------------------------------------------------------------ webhook

    async def set_webhook(self, request: ApiRequest) -> bool:
        """Register a webhook; an empty url removes it (Telegram's own rule)."""
        url = str(request.get("url") or "")
        if not url:
            return await self.delete_webhook(request)
        _check_webhook_url(url)
        secret = request.get("secret_token")
        if secret is not None and (
            not 1 <= len(str(secret)) <= 256 or not set(str(secret)) <= _SECRET_TOKEN_CHARS
        ):
            raise bad_request("secret token contains unallowed characters")
        if request.get("drop_pending_updates"):
            self.world.updates.clear()
        if isinstance(request.get("allowed_updates"), list):
            self.world.allowed_updates = list(request.get("allowed_updates"))
        self.world.webhook = {
            "url": url,
            "secret_token": secret,
            "max_connections": _int_or_none(request.get("max_connections")) or 40,
            "ip_address": request.get("ip_address"),
        }
        self.world.poll_generation += 1  # a waiting getUpdates now conflicts
        self.world.tick()
        return True

    async def delete_webhook(self, request: ApiRequest) -> bool:
        if request.get("drop_pending_updates"):
            self.world.updates.clear()
        self.world.webhook = {}
        self.world.tick()
        return True

    async def get_webhook_info(self, request: ApiRequest) -> JSON:
        hook = self.world.webhook
        info: JSON = {
            "url": hook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self.world.updates),
        }
        if hook.get("url"):
            info["max_connections"] = hook["max_connections"]
            if hook.get("ip_address"):
                info["ip_address"] = hook["ip_address"]
            if self.world.allowed_updates:
                info["allowed_updates"] = list(self.world.allowed_updates)
        return info

    # ------------------------------------------------------------------ helpers

    def _store(
        self,
        chat: ChatState,
        kind: str,
        text: FormattedText | None,
        markup: Any,
        content: JSON,
        request: ApiRequest,
    ) -> SentMessage:
        """Record a new bot message in ``chat`` and build the Message Telegram returns."""
        message_id = chat.next_message_id()
        raw: JSON = {
            "message_id": message_id,
            "from": sender_of(self.world.bot),
            "chat": dict(chat.chat),
            "date": self.world.now(),
        }
        raw.update({key: value for key, value in content.items() if value is not None})
        reply_to = self._reply_target(chat, request.get("reply_parameters"))
        if reply_to is not None:
            raw["reply_to_message"] = reply_to
        inline = _inline_only(markup)
        if inline is not None:
            raw["reply_markup"] = inline
        self._update_reply_keyboard(chat, markup)
        seq = self.world.tick()
        message = SentMessage(
            chat_id=chat.chat_id,
            message_id=message_id,
            kind=kind,
            text=text.text if text is not None else None,
            entities=tuple(text.entities) if text is not None else (),
            reply_markup=inline,
            raw=raw,
            sent_seq=seq,
            changed_seq=seq,
        )
        chat.bot_messages[message_id] = message
        return message

    def _message_to_edit(self, request: ApiRequest) -> tuple[ChatState, SentMessage]:
        if request.get("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")  # the stand-in has no inline messages
        chat = self.world.chat_for_send(request.get("chat_id"))
        message_id = _int_or_none(request.get("message_id"))
        if message_id is None:
            raise bad_request("message identifier is not specified")
        if message_id in chat.user_messages:
            raise bad_request("message can't be edited")
        message = chat.bot_messages.get(message_id)
        if message is None:
            raise bad_request("message to edit not found")
        return chat, message

    def _apply_edit(
        self,
        chat: ChatState,
        message: SentMessage,
        markup: JSON | None,
        text: FormattedText | None = None,
    ) -> SentMessage:
        """Replace the message in place; the returned Message gains ``edit_date``."""
        raw = {k: v for k, v in message.raw.items() if k not in ("reply_markup", "edit_date")}
        if text is not None:
            raw.pop("entities", None)
            raw["text"] = text.text
            if text.entities:
                raw["entities"] = text.entities
        if markup is not None:
            raw["reply_markup"] = markup
        raw["edit_date"] = self.world.now()
        edited = replace(
            message,
            text=text.text if text is not None else message.text,
            entities=tuple(text.entities) if text is not None else message.entities,
            reply_markup=markup,
            raw=raw,
            changed_seq=self.world.tick(),
            edit_count=message.edit_count + 1,
        )
        chat.bot_messages[message.message_id] = edited
        return edited

    def _reply_target(self, chat: ChatState, parameters: Any) -> JSON | None:
        if not isinstance(parameters, dict) or "message_id" not in parameters:
            return None
        target_id = _int_or_none(parameters["message_id"])
        found = chat.bot_messages.get(target_id or 0)
        target = found.raw if found else chat.user_messages.get(target_id or 0)
        if target is None and not parameters.get("allow_sending_without_reply"):
            raise bad_request("message to be replied not found")
        return {k: v for k, v in target.items() if k != "reply_to_message"} if target else None

    @staticmethod
    def _update_reply_keyboard(chat: ChatState, markup: Any) -> None:
        if isinstance(markup, dict) and "keyboard" in markup:
            chat.reply_keyboard = markup
        elif isinstance(markup, dict) and markup.get("remove_keyboard"):
            chat.reply_keyboard = None

    @staticmethod
    def _caption(request: ApiRequest) -> FormattedText | None:
        raw = request.get("caption")
        if raw is None:
            return None
        caption = format_text(str(raw), request.get("parse_mode"), request.get("caption_entities"))
        limits.check_caption(caption)
        return caption

    def _file_param(self, request: ApiRequest, kind: str) -> StoredFile:
        """The file a send names: an upload, a known file_id, or an http(s) URL.

        A new file is not registered yet, so a rejected request leaves no trace.
        """
        value = request.get(kind)
        if value is None or value == "":
            raise bad_request(f"there is no {kind} in the request")
        if not isinstance(value, Upload):
            text = str(value)
            if text in self.world.files:
                return self.world.files[text]  # re-sending by file_id keeps the id
            if urlsplit(text).scheme not in ("http", "https"):
                raise bad_request("wrong file identifier/HTTP URL specified")
        file_id, unique_id = self.world.new_file_id(kind)
        upload = value if isinstance(value, Upload) else None
        return StoredFile(
            file_id=file_id,
            file_unique_id=unique_id,
            kind=kind,
            chat_id=None,
            message_id=None,
            data=upload.data if upload else None,
            file_name=upload.filename if upload else None,
            mime_type=guess_mime_type(upload.filename, upload.content_type) if upload else None,
            url=None if upload else str(value),
        )

    def _store_with_file(
        self,
        chat: ChatState,
        stored: StoredFile,
        caption: FormattedText | None,
        markup: Any,
        content: JSON,
        request: ApiRequest,
    ) -> JSON:
        """Record the message carrying a file, and the file in its chat."""
        message = self._store(chat, stored.kind, caption, markup, content, request)
        self.world.files.setdefault(stored.file_id, stored)
        chat.files.append(
            replace(
                stored,
                chat_id=chat.chat_id,
                message_id=message.message_id,
                caption=caption.text if caption else None,
            )
        )
        return message.raw


def _text_param(value: Any) -> str:
    if value is None:
        raise bad_request("message text is empty")
    return str(value)


def _inline_markup_param(request: ApiRequest) -> JSON | None:
    """Edits accept only inline keyboards."""
    markup = request.get("reply_markup")
    if markup is None:
        return None
    limits.check_reply_markup(markup)
    if "inline_keyboard" not in markup:
        raise bad_request("inline keyboard expected")
    return dict(markup)


def _inline_only(markup: Any) -> JSON | None:
    """Telegram echoes only inline keyboards in the returned Message."""
    if isinstance(markup, dict) and "inline_keyboard" in markup:
        return dict(markup)
    return None


def _caption_fields(caption: FormattedText | None) -> JSON:
    if caption is None or not caption.text:
        return {}
    return {"caption": caption.text, "caption_entities": caption.entities or None}


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        raise bad_request("invalid integer parameter") from None


def _check_webhook_url(url: str) -> None:
    """Telegram wants HTTPS; the stand-in also accepts plain HTTP to a local test server."""
    parts = urlsplit(url)
    local_http = parts.scheme == "http" and parts.hostname in _LOCAL_HOSTS
    if parts.scheme != "https" and not local_http:
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
