"""Settings, read from the environment (and an optional .env file) once at start-up.

Every setting is documented in README.md and .env.example. The bot token is
kept out of `repr` so it can never reach a log line by accident.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Where `content/` or `flows/` is when no setting names it.

    An installed wheel carries both inside the package (`bot/content`, `bot/flows`, mapped
    there by pyproject.toml); a checkout, editable installs included, has them at its top
    level, where edits take effect at once. The packaged copy wins when it exists, so an
    installed bot never picks up an unrelated `content/` folder beside site-packages.
    """
    installed = PACKAGE_DIR / name
    return installed if installed.is_dir() else PROJECT_ROOT / name


def _load_dotenv(path: Path) -> None:
    """Read KEY=VALUE lines from .env without overriding the real environment."""
    if not path.is_file():
        return
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or "=" not in stripped:
            continue
        key, value = stripped.split("=", 1)
        os.environ.setdefault(key.strip(), value.strip().strip("'\""))


class SettingsError(ValueError):
    """A setting has a value the bot cannot use; the message names the variable."""


def _port(name: str) -> int | None:
    """An optional TCP port setting (unset or empty: none)."""
    if not os.environ.get(name):
        return None
    return int(_number(name, "0", 1, 65535))


def _number(name: str, default: str, low: float, high: float) -> float:
    """A numeric setting, checked against its sensible range, so a typo stops start-up
    with one clear line instead of a traceback or a bot that silently misbehaves."""
    raw = os.environ.get(name) or default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low:g} and {high:g}, not {raw}")
    return value


def _choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
    raw = (os.environ.get(name) or default).strip().lower()
    if raw not in allowed:
        raise SettingsError(f"{name} must be one of {', '.join(allowed)}, not {raw!r}")
    return raw


@dataclass(frozen=True)
class Settings:
    database: str
    """An SQLite file path, or a postgresql:// connection string."""
    content_dir: Path
    flows_dir: Path
    language: str
    log_level: str
    telegram_token: str | None = field(default=None, repr=False)
    telegram_base_url: str | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    poll_timeout: int = 30
    tick_seconds: float = 1.0
    outbox_lease_seconds: float = 30.0
    broadcast_per_second: float = 30.0
    clock_file: str | None = None
    webhook_url: str | None = None
    listen: str | None = None
    port: int | None = None
    """Webhook mode's public URL and the address its server binds; `psoasbot run` flags win."""
    metrics_host: str = "127.0.0.1"
    db_pool_size: int = 10
    """PostgreSQL only: connections (and database worker threads) per process."""
    db_pool_timeout: float = 30.0
    """PostgreSQL only: how long a unit of work waits for a connection (while the server is
    restarting, or every connection is busy) before it fails as transient."""
    metrics_port: int | None = None
    """A separate server for /healthz, /readyz and /metrics (the webhook server has them too)."""
    http_client: str = "aiohttp"
    cache_dir: Path | None = None
    """Drawn exercise pictures (and the terminal's summary PDFs); None: `cache` beside the database."""

    def cache_for(self, database: str) -> Path:
        """The cache folder for the bot that uses `database`: the setting, or a `cache` folder
        next to the SQLite file, so one data folder holds everything a deployment keeps
        (`./data/cache` for a PostgreSQL database, which has no folder of its own)."""
        from bot.storage import is_postgres

        if self.cache_dir is not None:
            return self.cache_dir
        return Path("data/cache") if is_postgres(database) else Path(database).parent / "cache"

    @classmethod
    def from_environment(cls, dotenv: Path | None = None) -> Settings:
        _load_dotenv(dotenv or Path.cwd() / ".env")
        env = os.environ
        return cls(
            database=env.get("PSOASBOT_DB") or "./data/psoasbot.db",
            content_dir=Path(env.get("PSOASBOT_CONTENT_DIR") or data_dir("content")),
            flows_dir=Path(env.get("PSOASBOT_FLOWS_DIR") or data_dir("flows")),
            language=env.get("PSOASBOT_LANGUAGE", "en"),
            log_level=env.get("PSOASBOT_LOG_LEVEL", "INFO").upper(),
            telegram_token=env.get("TELEGRAM_BOT_TOKEN") or None,
            telegram_base_url=env.get("TELEGRAM_BASE_URL") or None,
            webhook_secret=env.get("TELEGRAM_WEBHOOK_SECRET") or None,
            poll_timeout=int(_number("PSOASBOT_POLL_TIMEOUT", "30", 0, 50)),
            tick_seconds=_number("PSOASBOT_TICK_SECONDS", "1", 0.05, 3600),
            outbox_lease_seconds=_number("PSOASBOT_OUTBOX_LEASE_SECONDS", "30", 0, 3600),
            # Telegram allows about 30 bulk messages per second, up to 1,000 with paid broadcasts.
            broadcast_per_second=_number("PSOASBOT_BROADCAST_PER_SECOND", "30", 1, 1000),
            clock_file=env.get("PSOASBOT_CLOCK_FILE") or None,
            webhook_url=env.get("PSOASBOT_WEBHOOK_URL") or None,
            listen=env.get("PSOASBOT_LISTEN") or None,
            port=_port("PSOASBOT_PORT"),
            metrics_host=env.get("PSOASBOT_METRICS_HOST") or "127.0.0.1",
            metrics_port=_port("PSOASBOT_METRICS_PORT"),
            db_pool_size=int(_number("PSOASBOT_DB_POOL_SIZE", "10", 1, 200)),
            db_pool_timeout=_number("PSOASBOT_DB_POOL_TIMEOUT", "30", 0.1, 600),
            http_client=_choice("PSOASBOT_HTTP", "aiohttp", ("aiohttp", "httpx")),
            cache_dir=Path(env["PSOASBOT_CACHE_DIR"]) if env.get("PSOASBOT_CACHE_DIR") else None,
        )
