"""Builders for the Telegram objects the human side produces (users, chats, messages, ...).

Why a module of its own: these shapes must satisfy python-telegram-bot's ``Update.de_json``
and the published spec (``test_standin`` checks them against ``api.json``), and keeping them in
one place keeps the stand-in's request handling free of JSON literals.
"""

from __future__ import annotations

import re
from typing import Any

from .formatting import utf16_len

JSON = dict[str, Any]

_COMMAND_RE = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")
_ADMIN_RIGHTS = (
    "can_manage_chat", "can_delete_messages", "can_manage_video_chats", "can_restrict_members",
    "can_promote_members", "can_change_info", "can_invite_users", "can_post_stories",
    "can_edit_stories", "can_delete_stories",
)  # fmt: skip
_RESTRICTED_RIGHTS = (
    "can_send_messages", "can_send_audios", "can_send_documents", "can_send_photos",
    "can_send_videos", "can_send_video_notes", "can_send_voice_notes", "can_send_polls",
    "can_send_other_messages", "can_add_web_page_previews", "can_react_to_messages",
    "can_edit_tag", "can_change_info", "can_invite_users", "can_pin_messages",
    "can_manage_topics",
)  # fmt: skip
CHAT_MEMBER_STATUSES = ("creator", "administrator", "member", "restricted", "left", "kicked")


def bot_identity(token: str, username: str, first_name: str) -> JSON:
    """The bot's own User object (what getMe returns); its id is the token's numeric prefix."""
    bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1
    return {
        "id": bot_id,
        "is_bot": True,
        "first_name": first_name,
        "username": username,
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


def sender_of(bot: JSON) -> JSON:
    """The ``from`` of the bot's own messages: the User without getMe-only fields."""
    return {key: bot[key] for key in ("id", "is_bot", "first_name", "username")}


def human(user_id: int, overrides: JSON | None = None) -> JSON:
    """A human User; ``overrides`` replaces any field (language_code, username, ...)."""
    user: JSON = {
        "id": user_id,
        "is_bot": False,
        "first_name": f"User{user_id}",
        "language_code": "en",
    }
    user.update(overrides or {})
    return user


def private_chat(user: JSON) -> JSON:
    chat: JSON = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
    for optional in ("last_name", "username"):
        if optional in user:
            chat[optional] = user[optional]
    return chat


def group_chat(chat_id: int, title: str) -> JSON:
    return {"id": chat_id, "type": "group", "title": title}


def command_entities(text: str) -> list[JSON]:
    """``bot_command`` entities, as Telegram's clients mark every ``/word`` in a message."""
    return [
        {
            "type": "bot_command",
            "offset": utf16_len(text[: match.start()]),
            "length": utf16_len(match.group(0)),
        }
        for match in _COMMAND_RE.finditer(text)
    ]


def message(message_id: int, chat: JSON, sender: JSON, date: int, **content: Any) -> JSON:
    """A Message object; ``content`` adds text/entities/photo/sticker/... fields."""
    body: JSON = {"message_id": message_id, "from": sender, "chat": chat, "date": date}
    body.update({key: value for key, value in content.items() if value is not None})
    return body


def text_content(text: str) -> JSON:
    entities = command_entities(text)
    return {"text": text, "entities": entities or None}


def sticker(file_id: str, emoji: str = "👍") -> JSON:
    return {
        "file_id": file_id,
        "file_unique_id": f"u{file_id}",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "emoji": emoji,
    }


def photo_sizes(file_id: str, unique_id: str, width: int, height: int, size: int) -> list[JSON]:
    """The PhotoSize array Telegram returns, smallest first: a thumbnail when the photo is
    larger than 90 px, then the original. The thumbnail's ids are the original's plus ``-s``.
    """
    original = {
        "file_id": file_id,
        "file_unique_id": unique_id,
        "width": width,
        "height": height,
        "file_size": size,
    }
    if max(width, height) <= 90:
        return [original]
    scale = 90 / max(width, height)
    thumbnail = {
        "file_id": f"{file_id}-s",
        "file_unique_id": f"{unique_id}-s",
        "width": max(1, round(width * scale)),
        "height": max(1, round(height * scale)),
        "file_size": max(1, size // 20),
    }
    return [thumbnail, original]


def chat_member(status: str, user: JSON) -> JSON:
    """A ChatMember of the given status with the fields that status requires."""
    if status not in CHAT_MEMBER_STATUSES:
        raise ValueError(f"unknown chat member status {status!r}; use {CHAT_MEMBER_STATUSES}")
    member: JSON = {"status": status, "user": user}
    if status == "kicked":
        member["until_date"] = 0
    elif status == "creator":
        member["is_anonymous"] = False
    elif status == "administrator":
        member.update(can_be_edited=False, is_anonymous=False)
        member.update(dict.fromkeys(_ADMIN_RIGHTS, True))
    elif status == "restricted":
        member.update(is_member=True, until_date=0)
        member.update(dict.fromkeys(_RESTRICTED_RIGHTS, False))
    return member


def callback_query(query_id: str, sender: JSON, shown: JSON, data: str) -> JSON:
    return {
        "id": query_id,
        "from": sender,
        "message": shown,
        "chat_instance": f"ci{shown['chat']['id']}",
        "data": data,
    }


def update_kind(update: JSON) -> str:
    """The update's type: the one key besides ``update_id``."""
    kinds = [key for key in update if key != "update_id"]
    return kinds[0] if kinds else ""
