"""The `psoasbot` command: chat, assess, validate, graph, render-pictures, run, backup."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bot import logs
from bot.config import Settings, SettingsError
from bot.core import locales
from bot.core.app import SYMPTOM_CHECK_FLOW, Core, build_core
from bot.core.content import ContentError
from bot.core.ports import StorageError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="psoasbot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    chat = commands.add_parser("chat", help="talk to the bot in this terminal")
    chat.add_argument("--user", help="whose conversation to use (default: your login name)")
    chat.add_argument(
        "--db", help="database file or postgresql:// URL (default: $PSOASBOT_DB or ./data/psoasbot.db)"
    )
    chat.add_argument(
        "--language",
        help="the language to write in, such as de (default: $PSOASBOT_LANGUAGE or en); /language changes it",
    )

    assess = commands.add_parser("assess", help="triage one JSON answer set from stdin or --file")
    assess.add_argument("--file", type=Path, help="read the JSON from this file instead of stdin")

    commands.add_parser(
        "validate", help="check content/ and flows/, every language included, and report every problem"
    )

    graph = commands.add_parser("graph", help="write the flow as a Mermaid diagram")
    graph.add_argument("--output", type=Path, help="file to write (default: standard output)")

    pictures = commands.add_parser("render-pictures", help="draw every exercise's picture as a PNG file")
    pictures.add_argument(
        "--output", type=Path, default=Path("pictures"), help="folder to write into (default: ./pictures)"
    )

    run = commands.add_parser("run", help="start the bot (Telegram with a token, else the terminal chat)")
    run.add_argument("--db", help="database file or postgresql:// URL")
    run.add_argument(
        "--webhook",
        metavar="URL",
        help="receive updates by webhook at this public HTTPS URL (default: $PSOASBOT_WEBHOOK_URL)",
    )
    run.add_argument(
        "--listen", help="address the webhook server binds (default: $PSOASBOT_LISTEN or 127.0.0.1)"
    )
    run.add_argument(
        "--port", type=int, help="port the webhook server binds (default: $PSOASBOT_PORT or 8443)"
    )

    backup = commands.add_parser(
        "backup", help="copy the SQLite database to PATH, consistently, even while the bot runs"
    )
    backup.add_argument("path", type=Path, metavar="PATH", help="the backup file to write")
    backup.add_argument("--db", help="database file (default: $PSOASBOT_DB or ./data/psoasbot.db)")
    backup.add_argument("--force", action="store_true", help="replace PATH if it exists")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_environment()
    except SettingsError as error:
        print(f"psoasbot: {error}", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "backup":  # needs no content: it must work even when content is broken
        return _backup(args, settings)
    logs.configure(
        "WARNING"
        if args.command in ("chat", "assess", "validate", "graph", "render-pictures", "run")
        else settings.log_level
    )
    try:
        telegram = args.command == "run" and bool(settings.telegram_token)
        front = "telegram" if telegram else "terminal" if args.command in ("chat", "run") else None
        core = build_core(
            settings.content_dir, settings.flows_dir, settings.language, offer_reminders=telegram, front=front
        )
    except ContentError as error:
        print(f"psoasbot: {len(error.problems)} problem(s) in content or flows:", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_FAILURE
    try:
        return _dispatch(args, settings, core)
    except StorageError as error:
        # Conversation steps report their own storage errors to the user; one that
        # reaches here happened outside them (opening the database, or resending
        # replies at start-up on a full disk), and deserves one line, not a traceback.
        text = str(error)
        prefix = "" if text.startswith(("cannot ", "the database")) else "the database failed: "
        print(f"psoasbot: {prefix}{text}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_OK


def _dispatch(args: argparse.Namespace, settings: Settings, core: Core) -> int:
    if args.command == "validate":
        content = core.content
        print(
            f"content and flows are valid: {len(content.exercises)} exercises, "
            f"{len(content.routines)} routines, {len(content.red_flags)} red-flag rules, "
            f"{len(content.questions)} questions, {len(core.flow.states)} flow states, "
            f"languages {', '.join(content.languages)}"
        )
        return EXIT_OK
    if args.command == "assess":
        from bot.adapters.assess import run_assess

        if args.file:
            try:
                source = args.file.open(encoding="utf-8")
            except OSError as error:
                print(f"psoasbot assess: cannot read {args.file}: {error.strerror}", file=sys.stderr)
                return EXIT_USAGE
            with source:
                return run_assess(source, sys.stdout, sys.stderr, core)
        return run_assess(sys.stdin, sys.stdout, sys.stderr, core)
    if args.command == "graph":
        from bot.adapters.graph import mermaid

        diagram = mermaid(settings.flows_dir / SYMPTOM_CHECK_FLOW, core)
        if args.output:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(diagram, encoding="utf-8")
        else:
            sys.stdout.write(diagram)
        return EXIT_OK
    if args.command == "render-pictures":
        return _render_pictures(core, args.output)
    database = args.db or settings.database
    if args.command == "run" and settings.telegram_token:
        return _run_telegram(args, settings, core, database)
    if args.command == "run" and (args.webhook or settings.webhook_url):
        print(
            "psoasbot: webhook mode (--webhook or PSOASBOT_WEBHOOK_URL) needs TELEGRAM_BOT_TOKEN",
            file=sys.stderr,
        )
        return EXIT_USAGE
    language = getattr(args, "language", None) or settings.language
    if locales.match(language, core.content.languages) is None:
        print(
            f"psoasbot: no language {language!r} in the content (present: {', '.join(core.content.languages)})",
            file=sys.stderr,
        )
        return EXIT_USAGE
    user = getattr(args, "user", None)
    cache = settings.cache_for(database)
    return asyncio.run(_chat(core, database, user, settings.db_pool_size, language, cache))


def _render_pictures(core: Core, output: Path) -> int:
    """Write <exercise_id>.png for every exercise, to look at them or ship them."""
    from bot.illustrations import Illustrations

    illustrations = Illustrations(core.content.root)
    try:
        output.mkdir(parents=True, exist_ok=True)
        for exercise_id in core.content.exercises:
            started = time.perf_counter()
            picture = illustrations.png(exercise_id)
            seconds = time.perf_counter() - started
            path = output / f"{exercise_id}.png"
            path.write_bytes(picture)
            width, height = int.from_bytes(picture[16:20], "big"), int.from_bytes(picture[20:24], "big")
            print(f"{path}  {width} x {height}  {len(picture) // 1024} KB  drawn in {seconds:.2f} s")
    except OSError as error:
        print(f"psoasbot render-pictures: cannot write to {output}: {error.strerror}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def _backup(args: argparse.Namespace, settings: Settings) -> int:
    from bot.storage import backup

    source = args.db or settings.database
    try:
        size = backup(source, args.path, force=args.force)
    except StorageError as error:
        print(f"psoasbot backup: {error}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"backed up {source} to {args.path} ({size:,} bytes)")
    return EXIT_OK


def _run_telegram(args: argparse.Namespace, settings: Settings, core: Core, database: str) -> int:
    from bot.adapters.telegram.runner import TelegramSettings, run_telegram

    # Flags win over the environment, so .env can hold the webhook settings for `make run`.
    webhook = args.webhook or settings.webhook_url
    if webhook and not settings.webhook_secret:
        print(
            "psoasbot: webhook mode needs TELEGRAM_WEBHOOK_SECRET (1-256 characters A-Z a-z 0-9 _ -), "
            "so that only Telegram can post updates",
            file=sys.stderr,
        )
        return EXIT_USAGE
    logs.configure(settings.log_level)
    assert settings.telegram_token is not None
    telegram = TelegramSettings(
        token=settings.telegram_token,
        base_url=settings.telegram_base_url,
        poll_timeout=settings.poll_timeout,
        webhook_url=webhook,
        listen=args.listen or settings.listen or "127.0.0.1",
        port=next((p for p in (args.port, settings.port) if p is not None), 8443),  # --port 0: any free port
        webhook_secret=settings.webhook_secret,
        metrics_host=settings.metrics_host,
        metrics_port=settings.metrics_port,
        tick_seconds=settings.tick_seconds,
        outbox_lease_seconds=settings.outbox_lease_seconds,
        broadcast_per_second=settings.broadcast_per_second,
        clock_file=settings.clock_file,
        db_pool_size=settings.db_pool_size,
        db_pool_timeout=settings.db_pool_timeout,
        http_client=settings.http_client,
        cache_dir=settings.cache_for(database),
    )
    return asyncio.run(run_telegram(core, database, telegram))


async def _chat(
    core: Core, database: str, user: str | None, pool_size: int, language: str, cache: Path
) -> int:
    from bot.adapters.terminal import TerminalChat
    from bot.core.clock import SystemClock
    from bot.core.service import ConversationService
    from bot.illustrations import Illustrations
    from bot.reports.service import ReportMaker
    from bot.storage import open_storage

    storage = await open_storage(database, pool_size=pool_size)
    try:
        chat = TerminalChat(
            ConversationService(core.engine, storage),
            user,
            language,
            pictures=Illustrations(core.content.root, cache),
            reports=ReportMaker(core.content, storage, SystemClock(), core.plan_rules),
            files=cache,
        )
        return await chat.run(sys.stdin, sys.stdout)
    finally:
        await storage.close()
