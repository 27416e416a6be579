"""Structured logging: one JSON object per line, with secrets scrubbed.

Log lines carry ids and states, never what a user typed; and anything that
looks like a Telegram bot token is replaced before it is written, whichever
library produced the line (httpx logs full request URLs, which contain it).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

_TOKEN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def scrub(text: str) -> str:
    return _TOKEN.sub("<token>", text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": scrub(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = scrub(value) if isinstance(value, str) else value
        if record.exc_info:
            entry["error"] = scrub(self.formatException(record.exc_info))
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO, and the URL holds the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # transitions logs every state change at INFO: noise, and it would repeat per message.
    logging.getLogger("transitions").setLevel(logging.WARNING)
    # fontTools (fpdf2 subsets the PDF summary's fonts with it) logs each table it prunes at INFO.
    logging.getLogger("fontTools").setLevel(logging.WARNING)
