"""Sending replies to Telegram: from the outbox, in order, with retries.

The core writes replies to the outbox in the same transaction as the step that
made them; this module sends them and marks each one sent. After a crash, the
next start sends whatever was committed but not yet sent, so nothing is lost.
(A crash in the instant between Telegram accepting a message and the row being
marked sent can repeat that one message; no design can close that gap without
Telegram's help, and it is milliseconds wide.)

Error policy, per Telegram's documented behaviour:
- 429 (RetryAfter): wait as long as Telegram says, then try again.
- Network errors, timeouts and 5xx: retry with exponential backoff.
- 403 (Forbidden, the user blocked the bot): stop, mark the user inactive and
  drop their unsent replies; never retry.
- 400 "message is not modified": the screen already shows it; fine.
- Other 400s: the message cannot be sent as it is; log and move on, so one bad
  message never blocks the replies after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol, TypeVar

from telegram import InlineKeyboardMarkup, InputFile, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import ExtBot

from bot.adapters.telegram.limits import BROADCAST
from bot.adapters.telegram.render import html_text, keyboard, split_message
from bot.core.messages import Messages
from bot.core.ports import Storage, StorageError, Tx
from bot.core.records import Lease
from bot.core.replies import Reply, ReplyKind, reply_from_dict
from bot.illustrations import IllustrationError

log = logging.getLogger("psoasbot.telegram.delivery")
T = TypeVar("T")

MAX_ATTEMPTS = 6
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0


class UserBlocked(Exception):
    """Telegram answered 403: this user cannot be messaged any more."""


class Undeliverable(Exception):
    """Telegram refused this message for good (a 400); the next ones may still go."""


def retry_seconds(retry_after: object) -> float:
    total = getattr(retry_after, "total_seconds", None)
    return float(total()) if callable(total) else float(retry_after)  # type: ignore[arg-type]


async def with_retries(
    call: Callable[[], Awaitable[T]], what: str, sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep
) -> T:
    """Run one Bot API call under the error policy above."""
    backoff = FIRST_BACKOFF
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return await call()
        except RetryAfter as error:
            wait = retry_seconds(error.retry_after)
            log.warning(
                "rate limited by telegram", extra={"call": what, "retry_after": wait, "attempt": attempt}
            )
            await sleep(wait)
        except Forbidden as error:
            raise UserBlocked(str(error)) from error
        except BadRequest as error:
            if "not modified" in str(error).lower():
                return None  # type: ignore[return-value]
            log.error("telegram refused a message", extra={"call": what, "error": str(error)})
            raise Undeliverable(str(error)) from error
        except (TimedOut, NetworkError) as error:
            if attempt == MAX_ATTEMPTS:
                raise
            log.warning(
                "telegram unreachable, retrying",
                extra={"call": what, "error": str(error), "attempt": attempt, "backoff": backoff},
            )
            await sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)
    raise NetworkError(f"{what}: still failing after {MAX_ATTEMPTS} attempts")


@dataclass
class Screen:
    """Where the user's current question message is, while one batch is sent."""

    question_message_id: int | None
    keyboard_retired: bool = False
    outbox_id: int | None = None
    parts_sent: int = 0
    """Parts of a long reply already sent (after a crash mid-reply, only the rest goes)."""
    proactive: bool = False
    """A reminder or check-in the scheduler sent unasked: paced by the broadcast limiter."""
    language: str | None = None
    """The language of the reply being sent, when its later edits (a countdown) need it."""


CAPTION_LIMIT = 1024
"""Telegram's limit on a photo's caption, in characters after its HTML is parsed."""
TIMER_EDIT_SECONDS = 5.0
"""How often a hold's countdown message is edited: well within Telegram's limit for one chat."""
CHANNEL_MEDIA = "telegram"


class PictureSource(Protocol):
    """The pictures replies name (bot/illustrations): drawn on demand, each with a key that
    changes whenever the picture would, so a stored file_id is never reused for a new picture."""

    def key(self, name: str) -> str: ...

    def png(self, name: str) -> bytes: ...

    def caption(self, name: str, messages: Messages) -> str:
        """The picture's name and what its panels and glow mean."""
        ...

    def legend(self, name: str, messages: Messages) -> str:
        """What its panels and glow mean, for under a caption that names the exercise already."""
        ...


class DeliveryObserver(Protocol):
    """Told of every proactive message's outcome and of storage failures (bot/ops/telemetry.py)."""

    def proactive_sent(self, context: Mapping[str, Any], outcome: str, seconds: float) -> None: ...

    def storage_error(self) -> None: ...


class Deliverer:
    """Sends one user's outbox in order; one instance serves all users."""

    def __init__(
        self,
        bot: ExtBot[Any],
        storage: Storage,
        channel: str = "telegram",
        lease_seconds: float = 60.0,
        observer: DeliveryObserver | None = None,
        pictures: PictureSource | None = None,
        messages: Messages | None = None,
        languages: Callable[[str], Messages] | None = None,
    ) -> None:
        self.bot = bot
        self.storage = storage
        self.channel = channel
        self.lease_seconds = lease_seconds
        self.observer = observer
        self.pictures = pictures
        self.messages = messages
        self.languages = languages
        """The sentences of each language, for a countdown in the language its reply was in."""
        self._timers: set[asyncio.Task[None]] = set()
        self._waiting: dict[int, int] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    async def flush(self, user_id: int, chat_id: int, *, strict: bool = False) -> None:
        """Send every unsent reply of one user, oldest first.

        A storage error is logged and the replies stay in the outbox for the next sweep;
        with `strict` it is raised instead (at start-up, where a database that cannot
        even lease what is owed should stop the bot with one clear line).
        """
        lock = self._locks.setdefault(user_id, asyncio.Lock())
        self._waiting[user_id] = self._waiting.get(user_id, 0) + 1
        try:
            async with lock:
                await self._flush_locked(user_id, chat_id)
        except StorageError as error:
            if self.observer is not None:
                self.observer.storage_error()
            if strict:
                raise
            # The replies stay in the outbox (leased, then free again): the next sweep sends them.
            log.error("could not read or mark the outbox", extra={"user": user_id, "error": str(error)})
        finally:
            self._waiting[user_id] -= 1
            if self._waiting[user_id] == 0:  # drop the lock only when nobody waits on it
                del self._waiting[user_id]
                del self._locks[user_id]

    async def _flush_locked(self, user_id: int, chat_id: int) -> None:
        # Each storage step is one short unit of work: with many users' sends in flight they
        # queue on the database, and a long transaction would hold it across sends.
        lease_seconds = self.lease_seconds

        def lease(tx: Tx) -> Lease:
            return tx.outbox.lease(user_id, lease_seconds)

        leased = await self.storage.write(lease)
        screen = Screen(leased.question_message_id)
        try:
            for item in leased.items:
                screen.outbox_id = item.id
                await self._deliver_observed(chat_id, reply_from_dict(item.payload), item.context, screen)
                question = screen.question_message_id

                def sent(tx: Tx, outbox_id: int = item.id, question: int | None = question) -> None:
                    tx.outbox.mark_sent(outbox_id, user_id, question)

                await self.storage.write(sent)
        except UserBlocked:
            log.info("user blocked the bot", extra={"user": user_id})

            def blocked(tx: Tx) -> None:
                tx.users.set_active(user_id, False)
                tx.outbox.drop_unsent(user_id)

            await self.storage.write(blocked)

    async def flush_all(self, *, strict: bool = False) -> int:
        """After a restart: send what was committed but never sent (`strict`: see `flush`)."""
        channel = self.channel
        users = await self.storage.read(lambda tx: tx.outbox.users_with_unsent(channel))
        for user_id, external_id in users:
            await self.flush(user_id, int(external_id), strict=strict)
        return len(users)

    async def _deliver_observed(
        self, chat_id: int, reply: Reply, context: dict[str, Any], screen: Screen
    ) -> None:
        """`_deliver`, and for a proactive message (a reminder, a check-in) its outcome and
        how long Telegram took (pacing included) to the observer."""
        if self.observer is None or not context.get("proactive"):
            await self._deliver(chat_id, reply, context, screen)
            return
        started, outcome = time.monotonic(), "failed"
        try:
            outcome = "sent" if await self._deliver(chat_id, reply, context, screen) else "refused"
        except UserBlocked:
            outcome = "blocked"
            raise
        finally:
            self.observer.proactive_sent(context, outcome, time.monotonic() - started)

    async def _deliver(self, chat_id: int, reply: Reply, context: dict[str, Any], screen: Screen) -> bool:
        """Send or edit one reply; False when Telegram refused it for good (a 400)."""
        pressed = context.get("pressed_message_id")
        target = context.get("edit_message_id")
        screen.parts_sent = int(context.get("parts_sent", 0))
        screen.proactive = bool(context.get("proactive"))
        screen.language = context.get("language")
        retire = context.get("retire_message_id")
        try:
            if retire is not None:
                # A guided session moved on: the step that was pressed loses its buttons.
                await self._retire(chat_id, int(retire))
            if target is not None:
                # A reminder or check-in answered in place: edit that message, not the question.
                await with_retries(
                    lambda: self.bot.edit_message_text(
                        html_text(reply),
                        chat_id,
                        target,
                        parse_mode=ParseMode.HTML,
                        reply_markup=keyboard(reply),
                    ),
                    "editMessageText",
                )
            elif context.get("standalone"):
                # Reminders and lists arrive beside the conversation without disturbing it.
                await self._send(chat_id, reply, screen)
            elif reply.kind is ReplyKind.QUESTION:
                await self._question(chat_id, reply, pressed, screen)
            else:
                await self._retire_keyboard(chat_id, screen)
                await self._send(chat_id, reply, screen)
        except Undeliverable:
            return False
        return True

    async def _question(self, chat_id: int, reply: Reply, pressed: int | None, screen: Screen) -> None:
        """Edit the question in place when the user answered it by button, else send it anew."""
        current = screen.question_message_id
        if pressed is not None and pressed == current and not screen.keyboard_retired:
            text, markup = html_text(reply), keyboard(reply)
            if reply.edit:
                await with_retries(
                    lambda: self.bot.edit_message_reply_markup(chat_id, current, reply_markup=markup),
                    "editMessageReplyMarkup",
                )
            else:
                await with_retries(
                    lambda: self.bot.edit_message_text(
                        text, chat_id, current, parse_mode=ParseMode.HTML, reply_markup=markup
                    ),
                    "editMessageText",
                )
            return
        await self._retire_keyboard(chat_id, screen)
        sent = await self._send(chat_id, reply, screen)
        screen.question_message_id = sent.message_id if sent else None
        screen.keyboard_retired = False

    # ------------------------------------------------------------ pictures

    async def _send_with_picture(self, chat_id: int, reply: Reply, screen: Screen) -> Message | None:
        """The picture with the reply as its caption, and a line on what the panels and the glow
        mean, when that fits Telegram's 1,024 characters; otherwise the picture captioned with
        its name and that line, then the text (with the buttons) below. Each picture is uploaded
        once; later sends name it by the file_id Telegram gave it."""
        messages = self._messages_for(screen)
        assert reply.image is not None and self.pictures is not None and messages is not None
        try:
            legend = self.pictures.legend(reply.image, messages)
            own_caption = self.pictures.caption(reply.image, messages)
        except IllustrationError as error:  # start-up validation makes this rare: send the words
            log.error("picture unavailable", extra={"picture": reply.image, "error": str(error)})
            return await self._send_text(chat_id, reply, screen)
        fits = _caption_length(reply) + len(legend) + 2 <= CAPTION_LIMIT
        if fits:
            caption = f"{html_text(reply)}\n\n<i>{html.escape(legend, quote=False)}</i>"
        else:
            caption = html.escape(own_caption, quote=False)
        sent: Message | None = None
        if screen.parts_sent == 0:
            sent = await self._photo(chat_id, reply.image, caption, keyboard(reply) if fits else None, screen)
            if fits:
                return sent
            if screen.outbox_id is not None:
                await self.storage.write(partial(_note_parts_sent, outbox_id=screen.outbox_id, parts=1))
        rest = Reply(reply.kind, reply.text, title=reply.title, buttons=reply.buttons, timer=reply.timer)
        text_screen = Screen(screen.question_message_id, outbox_id=None, proactive=screen.proactive)
        return await self._send_text(chat_id, rest, text_screen) or sent

    async def _photo(
        self, chat_id: int, name: str, caption: str, markup: InlineKeyboardMarkup | None, screen: Screen
    ) -> Message | None:
        assert self.pictures is not None
        pictures = self.pictures
        key = f"exercise:{name}:{pictures.key(name)}"
        pacing = BROADCAST if screen.proactive else None
        known = await self.storage.read(lambda tx: tx.media.file_id(CHANNEL_MEDIA, key))
        if known is not None:
            try:
                return await with_retries(
                    lambda: self.bot.send_photo(
                        chat_id,
                        known,
                        caption=caption,
                        parse_mode=ParseMode.HTML,
                        reply_markup=markup,
                        rate_limit_args=pacing,
                    ),
                    "sendPhoto",
                )
            except Undeliverable:
                # Telegram no longer knows that file: forget it and upload the picture again.
                await self.storage.write(lambda tx: tx.media.forget(CHANNEL_MEDIA, key))
        png = await asyncio.to_thread(pictures.png, name)
        sent = await with_retries(
            lambda: self.bot.send_photo(
                chat_id,
                InputFile(png, filename=f"{name}.png"),
                caption=caption,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                rate_limit_args=pacing,
            ),
            "sendPhoto",
        )
        if sent is not None and sent.photo:
            file_id = sent.photo[-1].file_id
            await self.storage.write(lambda tx: tx.media.remember(CHANNEL_MEDIA, key, file_id))
        return sent

    # ------------------------------------------------------------ a hold's countdown

    def _start_timer(self, chat_id: int, message_id: int, seconds: int, messages: Messages) -> None:
        """Edit the countdown every few seconds until the hold is over. Nothing is stored: after
        a restart mid-hold the message simply stops counting; the session itself is stored."""
        task = asyncio.ensure_future(self._count_down(chat_id, message_id, seconds, messages))
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)

    async def _count_down(self, chat_id: int, message_id: int, seconds: int, messages: Messages) -> None:
        loop = asyncio.get_running_loop()
        ends = loop.time() + seconds
        while True:
            left = ends - loop.time()
            await asyncio.sleep(min(TIMER_EDIT_SECONDS, max(left, 0.0)))
            left = round(ends - loop.time())
            text = (
                messages.text("guide.timer.done")
                if left <= 0
                else messages.plural("guide.timer.running", left)
            )
            try:
                await with_retries(
                    lambda shown=text: self.bot.edit_message_text(shown, chat_id, message_id),  # type: ignore[misc]
                    "editMessageText",
                )
            except (Undeliverable, UserBlocked, TelegramError) as error:
                log.info("countdown stopped", extra={"error": type(error).__name__})
                return
            if left <= 0:
                return

    async def _retire_keyboard(self, chat_id: int, screen: Screen) -> None:
        """Take the buttons off the old question, so the chat shows one live question."""
        if screen.question_message_id is None or screen.keyboard_retired:
            return
        screen.keyboard_retired = True
        await self._retire(chat_id, screen.question_message_id)

    async def _retire(self, chat_id: int, message_id: int) -> None:
        with contextlib.suppress(Undeliverable):  # already gone or too old to edit: nothing to tidy
            await with_retries(
                lambda: self.bot.edit_message_reply_markup(chat_id, message_id, reply_markup=None),
                "editMessageReplyMarkup",
            )

    async def _send(self, chat_id: int, reply: Reply, screen: Screen) -> Message | None:
        messages = self._messages_for(screen)
        if reply.image and self.pictures is not None and messages is not None:
            sent = await self._send_with_picture(chat_id, reply, screen)
        else:
            sent = await self._send_text(chat_id, reply, screen)
        if sent is not None and reply.timer and messages is not None:
            self._start_timer(chat_id, sent.message_id, reply.timer, messages)
        return sent

    def _messages_for(self, screen: Screen) -> Messages | None:
        """The sentences of the language the reply was written in, for what the delivery adds
        to it (a picture's legend, a countdown); the default language's when it is not known."""
        if self.languages is not None and screen.language:
            return self.languages(screen.language)
        return self.messages

    async def _send_text(self, chat_id: int, reply: Reply, screen: Screen) -> Message | None:
        parts = split_message(html_text(reply))
        markup: InlineKeyboardMarkup | None = keyboard(reply)
        last: Message | None = None
        pacing = BROADCAST if screen.proactive else None
        for index, part in enumerate(parts):
            if index < screen.parts_sent:
                continue
            buttons = markup if index == len(parts) - 1 else None
            last = await with_retries(
                lambda part=part, buttons=buttons: self.bot.send_message(  # type: ignore[misc]
                    chat_id, part, parse_mode=ParseMode.HTML, reply_markup=buttons, rate_limit_args=pacing
                ),
                "sendMessage",
            )
            if index < len(parts) - 1 and screen.outbox_id is not None:
                await self.storage.write(
                    partial(_note_parts_sent, outbox_id=screen.outbox_id, parts=index + 1)
                )
        return last


def _note_parts_sent(tx: Tx, *, outbox_id: int, parts: int) -> None:
    tx.outbox.note_parts_sent(outbox_id, parts)


def _caption_length(reply: Reply) -> int:
    """The caption's length as Telegram counts it: the text with its markup parsed away."""
    return len(reply.text) + (len(reply.title) + 2 if reply.title else 0)
