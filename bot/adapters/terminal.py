"""`psoasbot chat`: the same conversation in a terminal, on the local database.

Choices are numbered; several choices are typed as "1,3". It reads standard
input line by line, so a script can drive it through a pipe. `/quit` (or the
end of input) leaves with status 0; everything said so far is already stored,
so the next `psoasbot chat` carries on where the user was. It writes in the language
given with `--language` (PSOASBOT_LANGUAGE by default) unless the user chose another
with /language; its own sentences are in content/messages/<lang>.terminal.yaml.

A terminal shows no pictures, so an exercise's picture is written to the cache
folder as a PNG and its path printed where the picture would be; `/summary`
writes the one-page PDF there too and prints its path.
"""

from __future__ import annotations

import asyncio
import getpass
import re
from pathlib import Path
from typing import IO

from bot.core.events import (
    Back,
    Cancel,
    ChooseLanguage,
    Event,
    Help,
    NewCheck,
    Press,
    Select,
    ShowRoutine,
    Start,
    Text,
)
from bot.core.messages import Messages
from bot.core.ports import StorageError
from bot.core.replies import Button, Reply, ReplyKind
from bot.core.service import ConversationService
from bot.illustrations import IllustrationError, Illustrations
from bot.reports.service import ReportMaker

CHANNEL = "terminal"
COMMANDS: dict[str, Event] = {
    "/start": Start(),
    "/check": NewCheck(),
    "/restart": NewCheck(),
    "/help": Help(),
    "/cancel": Cancel(),
    "/routine": ShowRoutine(),
    "/back": Back(),
    "/language": ChooseLanguage(),
}
_NUMBERS = re.compile(r"^\s*\d+(\s*[, ]\s*\d+)*\s*$")
_TOGGLE = re.compile(r"^\d+:t\d+$")


def render(reply: Reply, messages: Messages, picture: str | None = None) -> tuple[str, list[Button]]:
    """Plain-text rendering; returns the text and the buttons in numbered order. `picture` is the
    line that stands for the reply's picture, under its title."""
    lines: list[str] = []
    if reply.title:
        marker = "!!" if reply.kind is ReplyKind.ESCALATION else "=="
        lines.append(f"{marker} {reply.title} {marker}")
    if picture:
        lines.append(picture)
    lines.append(reply.text)
    numbered = list(reply.all_buttons)
    for number, button in enumerate(numbered, start=1):
        lines.append(f"  {number}) {button.label}")
    if reply.multi and messages.has("terminal.choose_several"):  # the terminal's own wording
        lines.append(f"  {messages.text('terminal.choose_several')}")
    return "\n".join(lines), numbered


class TerminalChat:
    def __init__(
        self,
        service: ConversationService,
        user: str | None = None,
        language: str | None = None,
        *,
        pictures: Illustrations | None = None,
        reports: ReportMaker | None = None,
        files: Path | None = None,
    ) -> None:
        """`pictures` (with a cache folder) and `reports` with `files`, the folder for summaries,
        show exercise pictures and make /summary; without them the chat is words only."""
        self.service = service
        self.user = user or _local_user()
        self.buttons: list[Button] = []
        self.language = language or service.engine.content.default_language
        """What the terminal reports as the user's language (as a Telegram app would)."""
        self.speaking = self.language
        """The language of the last replies (the user's own choice wins over `language`)."""
        self.pictures = pictures
        self.reports = reports
        self.files = files

    @property
    def messages(self) -> Messages:
        return self.service.engine.content.in_language(self.speaking).messages

    def event_for(self, line: str) -> Event | None:
        """What a typed line means, given the buttons shown last."""
        stripped = line.strip()
        if not stripped:
            return None
        command = stripped.split()[0].lower()
        if command in COMMANDS:
            return COMMANDS[command]
        if command.startswith("/") and command[1:].isalpha():
            return None  # an unknown command: `say_unknown` answers it
        by_label = [button for button in self.buttons if button.label == stripped]
        if len(by_label) == 1:  # a 0-10 scale: "3" means 3, not the third button
            return Press(by_label[0].data)
        if _NUMBERS.match(stripped) and self.buttons:
            numbers = [int(part) for part in re.split(r"[,\s]+", stripped.strip()) if part]
            if any(not 1 <= number <= len(self.buttons) for number in numbers):
                return Text(stripped)
            chosen = [self.buttons[number - 1] for number in numbers]
            toggles = [button.data for button in chosen if _TOGGLE.match(button.data)]
            if toggles and len(toggles) == len(chosen):
                return Select(tuple(toggles))
            if len(chosen) == 1:
                return Press(chosen[0].data)
        return Text(stripped)

    async def say(self, event: Event, output: IO[str]) -> None:
        try:
            handled = await self.service.handle(CHANNEL, self.user, event, language=self.language)
        except StorageError:
            # Nothing was stored (the step rolled back); the user can simply try again.
            output.write(self.messages.text("bot.storage_error") + "\n\n")
            output.flush()
            return
        self.speaking = handled.language or self.speaking
        for reply in handled.replies:
            text, numbered = render(reply, self.messages, self._picture_line(reply))
            output.write(text + "\n\n")
            if numbered:
                self.buttons = numbered
        output.flush()

    def _picture_line(self, reply: Reply) -> str | None:
        """The picture as a file and one line naming it; nothing when it cannot be written (the
        words of the reply say everything the picture shows)."""
        if reply.image is None or self.pictures is None or self.pictures.cache_dir is None:
            return None
        try:
            path = self.pictures.file(reply.image)
        except (IllustrationError, OSError):
            return None
        return self.messages.text("terminal.picture", path=str(path.resolve()))

    async def summary(self, output: IO[str]) -> None:
        """/summary: the one-page PDF for a physio or doctor, written to a file."""
        messages = self.messages
        if self.reports is None or self.files is None:
            output.write(messages.text("bot.unknown_command") + "\n\n")
            return
        try:
            summary = await self.reports.summary(CHANNEL, self.user)
        except StorageError:
            output.write(messages.text("bot.storage_error") + "\n\n")
            return
        if summary is None:
            output.write(messages.text("report.nothing_yet") + "\n\n")
            return
        path = self.files / _summary_file_name(summary.file_name, self.user)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(summary.pdf)
        except OSError as error:
            failed = messages.text("terminal.summary_failed", path=str(path), reason=error.strerror or error)
            output.write(failed + "\n\n")
            return
        saved = messages.text("terminal.summary_saved", path=str(path.resolve()))
        output.write(f"{summary.message}\n\n{saved}\n\n")

    async def run(self, source: IO[str], output: IO[str]) -> int:
        await self.say(Start(), output)
        loop = asyncio.get_running_loop()
        while True:
            output.write("> ")
            output.flush()
            line = await loop.run_in_executor(None, source.readline)
            if not line:
                output.write("\n")
                return 0
            if line.strip().lower() in ("/quit", "/exit"):
                output.write(self.messages.text("terminal.bye") + "\n")
                return 0
            if line.strip().lower() == "/summary":
                await self.summary(output)
                output.flush()
                continue
            event = self.event_for(line)
            if event is not None:
                await self.say(event, output)
            elif line.strip().startswith("/"):
                output.write(self.messages.text("bot.unknown_command") + "\n\n")
                output.flush()


def _local_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "local"


def _summary_file_name(name: str, user: str) -> str:
    """psoasbot-summary-<user>.pdf: one file per person, so two people on one machine keep theirs."""
    stem, dot, suffix = name.rpartition(".")
    safe = re.sub(r"[^A-Za-z0-9_-]+", "_", user).strip("_") or "local"
    return f"{stem}-{safe}{dot}{suffix}"
