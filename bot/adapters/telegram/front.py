"""Telegram updates in, core events out: the thin part of the Telegram front.

One CommandHandler per command, one MessageHandler for everything typed or
sent, one CallbackQueryHandler for buttons (no ConversationHandler,
no PTB persistence; the core and its database hold all state). Every input
goes through `ConversationService.handle` with the update id as inbox key, so
an update delivered twice (after a crash) is applied once; the replies go
through the outbox and the Deliverer.

Everything is written in the person's language: the one they chose with /language,
else the one their Telegram app reports (`language_code`), which every update
carries and the core keeps for the reminders it sends later.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.adapters.telegram.delivery import Deliverer, Undeliverable, UserBlocked, with_retries
from bot.core.events import (
    Back,
    Cancel,
    ChangeQuietHours,
    ChangeReminderDays,
    ChangeReminderTime,
    ChangeTimezone,
    ChooseLanguage,
    Event,
    Help,
    NewCheck,
    Press,
    ReviewPlan,
    ShowRoutine,
    Start,
    Text,
    Unsupported,
)
from bot.core.messages import Messages
from bot.core.plan.buttons import is_plan_button
from bot.core.plan.service import PlanHandled, PlanService
from bot.core.ports import StorageError
from bot.core.service import ConversationService
from bot.ops import trace
from bot.reports.service import ReportMaker

log = logging.getLogger("psoasbot.telegram")
CHANNEL = "telegram"
FORGET_PREFIX = "forget:"
FORGET_VALID_SECONDS = 15 * 60

CORE_COMMANDS: dict[str, Event] = {
    "start": Start(),
    "check": NewCheck(),
    "restart": NewCheck(),
    "routine": ShowRoutine(),
    "help": Help(),
    "cancel": Cancel(),
    "back": Back(),
    "timezone": ChangeTimezone(),
    "language": ChooseLanguage(),
}
MENU = (
    "start",
    "check",
    "routine",
    "reminders",
    "progress",
    "summary",
    "timezone",
    "language",
    "help",
    "cancel",
    "mydata",
    "forget",
)
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]


class TelegramFront:
    def __init__(
        self,
        service: ConversationService,
        deliverer: Deliverer,
        messages: Messages,
        plan: PlanService | None = None,
        reports: ReportMaker | None = None,
    ) -> None:
        self.service = service
        self.deliverer = deliverer
        self.messages = messages
        self.plan = plan
        self.reports = reports

    def commands(self, language: str | None = None) -> list[BotCommand]:
        """The command menu registered with setMyCommands, in `language` (the default's when
        None)."""
        messages = self._messages_in(language)
        return [BotCommand(name, messages.text(f"telegram.command.{name}")) for name in MENU]

    def menus(self) -> list[tuple[str | None, list[BotCommand]]]:
        """(language_code, commands) for setMyCommands: the default language's menu for
        everyone, then one per language present, which Telegram shows to people whose app
        is in that language (it takes two-letter codes, so "pt_BR" registers as "pt")."""
        content = self.service.engine.content
        menus: list[tuple[str | None, list[BotCommand]]] = [(None, self.commands())]
        seen: set[str] = set()
        for code in sorted(content.languages, key=lambda code: ("_" in code, code)):
            short = code.split("_")[0].lower()
            if len(short) == 2 and short not in seen:
                seen.add(short)
                menus.append((short, self.commands(code)))
        return menus

    def _messages_in(self, language: str | None) -> Messages:
        if language is None:
            return self.messages
        return self.service.engine.content.in_language(language).messages

    async def _messages_for(self, update: Update) -> Messages:
        """The person's language for a message outside the conversation (nothing stored)."""
        user = update.effective_user
        if user is None:
            return self.messages
        try:
            language = await self.service.language_of(CHANNEL, str(user.id), user.language_code or "")
        except StorageError:
            language = user.language_code or ""
        return self._messages_in(language)

    def handlers(self) -> list[BaseHandler[Any, Any, Any]]:
        private = filters.ChatType.PRIVATE
        new_message = filters.UpdateType.MESSAGE
        return [
            MessageHandler(~private & new_message, self.on_group),
            *(CommandHandler(name, self.on_command, filters=private) for name in CORE_COMMANDS),
            CommandHandler("mydata", self.on_mydata, filters=private),
            CommandHandler("reminders", self.on_reminders, filters=private),
            CommandHandler("progress", self.on_progress, filters=private),
            CommandHandler("summary", self.on_summary, filters=private),
            CommandHandler("forget", self.on_forget, filters=private),
            MessageHandler(private & new_message & filters.TEXT, self.on_text),
            MessageHandler(private & new_message & ~filters.TEXT, self.on_other),
            MessageHandler(filters.UpdateType.EDITED_MESSAGE, self.on_edited),
            CallbackQueryHandler(self.on_button),
            ChatMemberHandler(self.on_membership, ChatMemberHandler.MY_CHAT_MEMBER),
        ]

    # ------------------------------------------------------------ into the core

    async def _dispatch(self, update: Update, event: Event, pressed_message_id: int | None = None) -> None:
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None:
            return
        try:
            handled = await self.service.handle(
                CHANNEL,
                str(user.id),
                event,
                inbox_key=f"update:{update.update_id}",
                outbox_context={"pressed_message_id": pressed_message_id},
                language=user.language_code or "",
            )
        except StorageError as error:
            # Nothing was stored (the transaction rolled back). A database that is only briefly
            # away (restarting, a lost connection) gets the update again from Telegram, applied
            # once it is back; otherwise say so, so the user can retry.
            log.error("could not store an input", extra={"update": update.update_id, "error": str(error)})
            trace.note_outcome("storage_error")
            if not (error.transient and trace.ask_redelivery()):
                await self._say(
                    chat.id, self._messages_in(user.language_code or "").text("bot.storage_error")
                )
            return
        trace.note_user(handled.user_id)
        if handled.duplicate:  # the update's own log line says so (outcome "duplicate")
            trace.note_outcome("duplicate")
        if handled.rejected:
            trace.note_outcome("rejected")
            log.warning("button rejected", extra={"update": update.update_id, "why": handled.rejected})
        await self.deliverer.flush(handled.user_id, chat.id)

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or not message.text:
            return
        name = message.text.split()[0].lstrip("/").split("@")[0].lower()
        await self._dispatch(update, CORE_COMMANDS[name])

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None and message.text is not None
        await self._dispatch(update, Text(message.text))

    async def on_other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        kind = "other"
        if message is not None:
            for attribute in (
                "sticker",
                "photo",
                "voice",
                "video",
                "document",
                "audio",
                "location",
                "contact",
            ):
                if getattr(message, attribute, None):
                    kind = attribute
                    break
        await self._dispatch(update, Unsupported(kind))

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        await self._answer(query.id)
        data = query.data or ""
        chat = update.effective_chat
        if chat is None or chat.type != "private":
            return
        if data.startswith(FORGET_PREFIX):
            await self._forget_answer(update, data)
            return
        message_id = query.message.message_id if query.message else None
        user = update.effective_user
        if self.plan is not None and is_plan_button(data) and user is not None:
            try:
                handled = await self.plan.press(
                    CHANNEL,
                    str(user.id),
                    data,
                    message_id,
                    language=user.language_code or "",
                    # Its own key: a conversation the press starts below claims "update:<id>".
                    inbox_key=f"update:{update.update_id}:plan",
                )
            except StorageError as error:
                log.error(
                    "could not store a plan answer", extra={"update": update.update_id, "error": str(error)}
                )
                trace.note_outcome("storage_error")
                if not (error.transient and trace.ask_redelivery()):
                    await self._say(
                        chat.id, self._messages_in(user.language_code or "").text("bot.storage_error")
                    )
                return
            trace.note_user(handled.user_id)
            if handled.duplicate:  # delivered again after a crash: applied once already
                trace.note_outcome("duplicate")
                if handled.user_id is not None:
                    await self.deliverer.flush(handled.user_id, chat.id)
                return
            if handled.rejected:
                trace.note_outcome("rejected")
                log.warning(
                    "plan button rejected", extra={"update": update.update_id, "why": handled.rejected}
                )
            follow_up = _conversation_for(handled)
            if follow_up is not None:
                await self._dispatch(update, follow_up)
            elif handled.user_id is not None:
                await self.deliverer.flush(handled.user_id, chat.id)
            return
        await self._dispatch(update, Press(data), pressed_message_id=message_id)

    # ------------------------------------------------------------ outside the core

    async def on_group(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Health answers are personal: only private chats; nothing is stored."""
        chat, user = update.effective_chat, update.effective_user
        if chat is None:
            return
        # Nothing about anyone in a group is stored, so their app's language is all there is.
        messages = self._messages_in(user.language_code or "" if user is not None else None)
        await self._say(chat.id, messages.text("bot.private_only"))

    async def on_edited(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is not None and chat.type == "private":
            await self._say(chat.id, (await self._messages_for(update)).text("bot.edited_message"))

    async def on_membership(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        change = update.my_chat_member
        if change is None or change.chat.type != "private":
            return
        status = change.new_chat_member.status
        active = status not in (ChatMemberStatus.BANNED, ChatMemberStatus.LEFT)
        await self.service.set_active(CHANNEL, str(change.from_user.id), active)

    async def on_reminders(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None or self.plan is None:
            return
        user_id = await self.plan.list_reminders(CHANNEL, str(user.id), language=user.language_code or "")
        if user_id is None:
            await self._say(chat.id, (await self._messages_for(update)).text("plan.no_reminders"))
            return
        await self.deliverer.flush(user_id, chat.id)

    async def on_progress(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A chart of pain over time; read-only, so it is sent directly, not through the outbox."""
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None or self.reports is None:
            return
        chart = await self.reports.progress(CHANNEL, str(user.id))
        if chart is None:
            await self._say(chat.id, (await self._messages_for(update)).text("report.nothing_yet"))
            return
        png, caption = chart
        try:
            await with_retries(
                lambda: context.bot.send_photo(
                    chat.id, InputFile(png, filename="progress.png"), caption=caption
                ),
                "sendPhoto",
            )
        except (UserBlocked, Undeliverable, TelegramError) as error:
            log.warning("could not send progress chart", extra={"error": type(error).__name__})

    async def on_summary(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A few lines on how it is going, then the one-page PDF for a physio or doctor; read-only,
        so sent directly, not through the outbox."""
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None or self.reports is None:
            return
        summary = await self.reports.summary(CHANNEL, str(user.id))
        messages = await self._messages_for(update)
        if summary is None:
            await self._say(chat.id, messages.text("report.nothing_yet"))
            return
        await self._say(chat.id, summary.message)
        try:
            await with_retries(
                lambda: context.bot.send_document(
                    chat.id,
                    InputFile(summary.pdf, filename=summary.file_name),
                    caption=messages.text("report.summary_caption"),
                ),
                "sendDocument",
            )
        except (UserBlocked, Undeliverable, TelegramError) as error:
            log.warning("could not send summary", extra={"error": type(error).__name__})

    async def on_mydata(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        user, chat = update.effective_user, update.effective_chat
        if user is None or chat is None:
            return
        exported = await self.service.export(CHANNEL, str(user.id))
        messages = await self._messages_for(update)
        if exported is None:
            await self._say(chat.id, messages.text("bot.mydata_empty"))
            return
        document = json.dumps(exported, indent=2, ensure_ascii=False, default=str).encode("utf-8")
        try:
            await with_retries(
                lambda: context.bot.send_document(
                    chat.id,
                    InputFile(document, filename="psoasbot-my-data.json"),
                    caption=messages.text("bot.mydata_caption"),
                ),
                "sendDocument",
            )
        except (UserBlocked, Undeliverable, TelegramError) as error:
            log.warning("could not send data export", extra={"error": type(error).__name__})

    async def on_forget(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat is None:
            return
        messages = await self._messages_for(update)
        stamp = int(time.time())
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        messages.text("bot.forget_yes"), callback_data=f"{FORGET_PREFIX}yes:{stamp}"
                    )
                ],
                [
                    InlineKeyboardButton(
                        messages.text("bot.forget_no"), callback_data=f"{FORGET_PREFIX}no:{stamp}"
                    )
                ],
            ]
        )
        await self._say(chat.id, messages.text("bot.forget_confirm"), markup)

    async def _forget_answer(self, update: Update, data: str) -> None:
        user, chat, query = update.effective_user, update.effective_chat, update.callback_query
        if user is None or chat is None or query is None:
            return
        parts = data.split(":")
        if len(parts) != 3 or parts[1] not in ("yes", "no") or not parts[2].isdecimal():
            trace.note_outcome("rejected")
            log.warning("forged forget button ignored", extra={"update": update.update_id})
            return
        messages = await self._messages_for(update)  # before /forget takes the chosen language with it
        if time.time() - int(parts[2]) > FORGET_VALID_SECONDS:
            text = messages.text("bot.forget_expired")
        elif parts[1] == "yes":
            await self.service.forget(CHANNEL, str(user.id))
            text = messages.text("bot.forgotten")
        else:
            text = messages.text("bot.forget_kept")
        message_id = query.message.message_id if query.message else None
        if message_id is not None:
            try:
                await with_retries(
                    lambda: query.get_bot().edit_message_text(text, chat.id, message_id), "editMessageText"
                )
                return
            except (Undeliverable, UserBlocked, TelegramError):
                pass
        await self._say(chat.id, text)

    async def _answer(self, query_id: str) -> None:
        """Every button press is acknowledged, so the button stops spinning."""
        try:
            await with_retries(
                lambda: self.deliverer.bot.answer_callback_query(query_id), "answerCallbackQuery"
            )
        except (Undeliverable, UserBlocked, TelegramError) as error:
            log.info("callback answer failed", extra={"error": type(error).__name__})

    async def _say(self, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
        """A direct message that is not part of the conversation (nothing stored)."""
        try:
            await with_retries(
                lambda: self.deliverer.bot.send_message(chat_id, text, reply_markup=markup), "sendMessage"
            )
        except (Undeliverable, UserBlocked, TelegramError) as error:
            log.info("direct message failed", extra={"error": type(error).__name__})


def _conversation_for(handled: PlanHandled) -> Event | None:
    """The conversation a plan button starts (a question with its own flow), if any."""
    if handled.change_time_of is not None:
        return ChangeReminderTime(handled.change_time_of)
    if handled.change_days_of is not None:
        return ChangeReminderDays(handled.change_days_of)
    if handled.quiet_hours:
        return ChangeQuietHours()
    if handled.review:
        return ReviewPlan()
    return None
