"""AiohttpRequest, the bot's default HTTP layer under python-telegram-bot, against local servers.

Most checks run the same calls through python-telegram-bot's own HTTPXRequest beside it and
require the same outcome: the same parameters and uploads arriving, the same exception class
and message for every error answer, TimedOut and NetworkError for the same transport failures.
The whole bot runs on it in tests/test_telegram.py and the other end-to-end tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import ApplicationBuilder
from telegram.request import BaseRequest, HTTPXRequest

from bot.adapters.telegram.aiohttp_request import AiohttpRequest, use_http_client
from bot.adapters.telegram.runner import TelegramSettings, build_application
from bot.config import Settings, SettingsError
from tests.standin import TINY_PNG, BotApiStandIn
from tests.telegram_support import BOTH_HTTP_CLIENTS, HTTP_CLIENTS, BotProcess, TelegramUser, new_standin

TOKEN = "123456789:AAF-unit-test-token-for-local-servers"
ME = {"id": 42, "is_bot": True, "first_name": "Psoas", "username": "psoas_test_bot"}
Reply = Callable[[web.Request], Awaitable[web.StreamResponse]]


def message(chat_id: int = 7) -> dict[str, Any]:
    return {"message_id": 1, "date": 0, "chat": {"id": chat_id, "type": "private"}, "text": "ok"}


@dataclass
class Seen:
    method: str
    content_type: str
    body: bytes
    peer: Any


@dataclass
class LocalApi:
    """A tiny Bot API: answers getMe, records every request and the connection it came on,
    and answers anything else with `reply` (ok by default)."""

    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    reply: Reply | None = None

    @property
    def base_url(self) -> str:
        return f"{self.url}/bot{TOKEN}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        transport = request.transport
        peer = transport.get_extra_info("peername") if transport else None
        self.seen.append(Seen(method, request.content_type, await request.read(), peer))
        if method == "getMe":
            return web.json_response({"ok": True, "result": ME})
        if self.reply is not None:
            return await self.reply(request)
        return web.json_response({"ok": True, "result": message()})


@contextlib.asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest.fixture()
async def api() -> AsyncIterator[LocalApi]:
    local = LocalApi()
    app = web.Application()
    app.router.add_route("*", "/bot{token}/{method}", local.handle)
    async with serve(app) as url:
        local.url = url
        yield local


CLASSES: dict[str, Callable[..., BaseRequest]] = {"aiohttp": AiohttpRequest, "httpx": HTTPXRequest}


@contextlib.asynccontextmanager
async def bot_on(api: LocalApi, kind: str, **request_args: Any) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=api.base_url, request=CLASSES[kind](**request_args)) as bot:
        yield bot


def parameters(seen: Seen) -> dict[str, Any]:
    """What the Bot API makes of a request body, whichever encoding carried it."""
    if seen.content_type == "application/json":
        decoded: dict[str, Any] = json.loads(seen.body)
        return decoded
    assert seen.content_type == "application/x-www-form-urlencoded", seen.content_type
    from urllib.parse import parse_qsl

    found: dict[str, Any] = {}
    for key, value in parse_qsl(seen.body.decode(), keep_blank_values=True):
        try:
            found[key] = json.loads(value) if value[:1] in "[{" or value.isdigit() else value
        except ValueError:
            found[key] = value
    return found


# ------------------------------------------------------------------------------------- bodies


async def test_json_parameters_arrive_as_python_telegram_bot_meant_them(api: LocalApi) -> None:
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Yes ✓", callback_data="a:1"),
                InlineKeyboardButton("Nein", callback_data="b"),
            ]
        ]
    )
    text = 'Schmerz "im" Rücken & Hüfte <b>?</b> 🙂 ' + "x" * 3000 + " עברית"
    arrived = {}
    for kind in CLASSES:
        api.seen.clear()
        async with bot_on(api, kind) as bot:
            await bot.send_message(1234567890123, text, reply_markup=keyboard, parse_mode="HTML")
        (sent,) = [s for s in api.seen if s.method == "sendMessage"]
        arrived[kind] = parameters(sent)
    assert api.seen[-1].content_type == "application/x-www-form-urlencoded"  # httpx ran last
    assert arrived["aiohttp"] == arrived["httpx"]
    assert arrived["aiohttp"]["text"] == text
    assert arrived["aiohttp"]["chat_id"] == 1234567890123
    assert arrived["aiohttp"]["reply_markup"]["inline_keyboard"][0][0] == {
        "text": "Yes ✓",
        "callback_data": "a:1",
    }


def _normalised(body: bytes) -> bytes:
    boundary = body.split(b"\r\n", 1)[0]
    return body.replace(boundary, b"--BOUNDARY")


async def test_uploads_are_multipart_byte_for_byte_as_httpx_sends_them(api: LocalApi) -> None:
    odd_name = 'Zusammenfassung "Rücken"\\2026.txt'
    bodies: dict[str, list[bytes]] = {}
    for kind in CLASSES:
        api.seen.clear()
        async with bot_on(api, kind) as bot:
            await bot.send_document(
                7, InputFile(b"line one\nline two\x00\xff", filename=odd_name), caption="für dich"
            )
            await bot.send_photo(
                7, InputFile(io.BytesIO(b"\x89PNG\r\n\x1a\n-not-really"), filename="chart.png")
            )
            await bot.send_document(7, InputFile(b"{}", filename="psoasbot-my-data.json"))
        uploads = [s for s in api.seen if s.method in ("sendDocument", "sendPhoto")]
        assert all(s.content_type == "multipart/form-data" for s in uploads)
        bodies[kind] = [_normalised(s.body) for s in uploads]
    assert bodies["aiohttp"] == bodies["httpx"]
    assert b'filename="chart.png"\r\nContent-Type: image/png' in bodies["aiohttp"][1]
    assert b"Content-Type: application/json" in bodies["aiohttp"][2]


async def test_the_stand_in_stores_an_uploaded_document_with_its_name_and_type() -> None:
    async with BotApiStandIn(token=TOKEN) as standin:
        standin.add_user(5001)
        async with Bot(TOKEN, base_url=standin.base_url, request=AiohttpRequest()) as bot:
            await bot.send_document(5001, InputFile(b'{"answers": 1}', filename="psoasbot-my-data.json"))
            await bot.send_photo(
                5001, InputFile(io.BytesIO(TINY_PNG), filename="progress.png"), caption="Pain"
            )
        (document,) = standin.documents(5001)
        (photo,) = standin.photos(5001)
    assert (document.file_name, document.mime_type, document.data) == (
        "psoasbot-my-data.json",
        "application/json",
        b'{"answers": 1}',
    )
    assert photo.data == TINY_PNG


# ------------------------------------------------------------------------------ error answers


def answer(status: int, body: str, content_type: str = "application/json") -> Reply:
    async def reply(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, text=body, content_type=content_type)

    return reply


def error_json(code: int, description: str, **parameters: Any) -> str:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return json.dumps(body)


BAD_GATEWAY_HTML = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
ERROR_ANSWERS = [
    (429, error_json(429, "Too Many Requests: retry after 7", retry_after=7), RetryAfter),
    (403, error_json(403, "Forbidden: bot was blocked by the user"), Forbidden),
    (409, error_json(409, "Conflict: terminated by other getUpdates request"), Conflict),
    (400, error_json(400, "Bad Request: message text is empty"), BadRequest),
    (401, error_json(401, "Unauthorized"), InvalidToken),
    (500, error_json(500, "Internal Server Error"), NetworkError),
    (502, BAD_GATEWAY_HTML, NetworkError),
]


@pytest.mark.parametrize(
    ("status", "body", "expected"), ERROR_ANSWERS, ids=[str(a[0]) for a in ERROR_ANSWERS]
)
async def test_error_answers_raise_what_python_telegram_bots_default_raises(
    api: LocalApi, status: int, body: str, expected: type[TelegramError], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # as `psoasbot run` sets it
    content_type = "text/html" if body.startswith("<") else "application/json"
    api.reply = answer(status, body, content_type)
    raised: dict[str, TelegramError] = {}
    for kind in CLASSES:
        async with bot_on(api, kind) as bot:
            with pytest.raises(expected) as caught:
                await bot.send_message(7, "hello")
        raised[kind] = caught.value
    assert type(raised["aiohttp"]) is type(raised["httpx"])
    assert str(raised["aiohttp"]) == str(raised["httpx"])
    if isinstance(raised["aiohttp"], RetryAfter):
        assert raised["aiohttp"].retry_after == timedelta(seconds=7)
    if status == 502:
        assert "Bad Gateway (502)" in str(raised["aiohttp"])


# ---------------------------------------------------------------------------- transport faults


async def test_a_slow_answer_times_out_and_a_long_poll_gets_its_own_read_timeout(api: LocalApi) -> None:
    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(1.0)
        return web.json_response({"ok": True, "result": [] if "getUpdates" in request.path else message()})

    api.reply = slow
    for kind in CLASSES:
        async with bot_on(api, kind, read_timeout=0.2) as bot:
            with pytest.raises(TimedOut):
                await bot.send_message(7, "hello")
            # getUpdates adds its long-poll timeout to the read timeout, as for a 30 s poll.
            assert await bot.get_updates(timeout=2, read_timeout=0.2) == ()
            with pytest.raises(TimedOut):
                await bot.get_updates(timeout=0, read_timeout=0.2)


async def test_a_refused_connection_is_a_network_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for kind in CLASSES:
        request = CLASSES[kind]()
        await request.initialize()
        try:
            with pytest.raises(NetworkError) as caught:
                await request.post(f"http://127.0.0.1:{port}/bot{TOKEN}/getMe")
        finally:
            await request.shutdown()
        assert not isinstance(caught.value, TimedOut)
        assert TOKEN not in str(caught.value)


async def test_a_server_that_never_accepts_gives_a_connect_timeout() -> None:
    """A listening socket whose tiny accept queue is full: the handshake never completes."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(0)
        port = server.getsockname()[1]
        fillers = []
        for _ in range(4):  # fill the accept queue; later connects hang in SYN_SENT
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        await asyncio.sleep(0.1)
        try:
            request = AiohttpRequest(connect_timeout=0.3)
            await request.initialize()
            try:
                started = asyncio.get_running_loop().time()
                with pytest.raises(TimedOut):
                    await request.post(f"http://127.0.0.1:{port}/bot{TOKEN}/getMe")
                assert asyncio.get_running_loop().time() - started < 2.0
            finally:
                await request.shutdown()
        finally:
            for filler in fillers:
                filler.close()


async def test_a_full_pool_gives_pythons_telegram_bots_pool_timeout_and_sends_nothing(api: LocalApi) -> None:
    release = asyncio.Event()

    async def held(request: web.Request) -> web.StreamResponse:
        await release.wait()
        return web.json_response({"ok": True, "result": message()})

    api.reply = held
    async with bot_on(api, "aiohttp", connection_pool_size=1, pool_timeout=0.2) as bot:
        first = asyncio.ensure_future(bot.send_message(7, "first"))
        await asyncio.sleep(0.2)
        with pytest.raises(TimedOut, match="Pool timeout"):
            await bot.send_message(7, "second")
        release.set()
        await first
    sent = [parameters(s)["text"] for s in api.seen if s.method == "sendMessage"]
    assert sent == ["first"]


async def test_connections_are_kept_alive_and_reused(api: LocalApi) -> None:
    async with bot_on(api, "aiohttp") as bot:
        for n in range(20):
            await bot.send_message(7, f"message {n}")
        await asyncio.gather(*(bot.send_message(7, "at once") for _ in range(5)))
        for n in range(10):
            await bot.send_message(7, f"again {n}")
    peers = [s.peer for s in api.seen]
    assert len(peers) == 36
    assert len(set(peers[:21])) == 1  # getMe and 20 calls one after another: one connection
    assert len(set(peers)) <= 5  # five at once need at most five, and they stay open


async def test_shutdown_closes_and_initialize_opens_again(api: LocalApi) -> None:
    request = AiohttpRequest()
    async with Bot(TOKEN, base_url=api.base_url, request=request) as bot:
        await bot.send_message(7, "one")
    with pytest.raises(NetworkError):  # as HTTPXRequest: a closed request refuses, BaseRequest wraps it
        await request.post(f"{api.base_url}/sendMessage")
    await request.shutdown()  # a second shutdown is harmless
    async with Bot(TOKEN, base_url=api.base_url, request=request) as bot:
        await bot.send_message(7, "two")
    assert [parameters(s)["text"] for s in api.seen if s.method == "sendMessage"] == ["one", "two"]


async def test_an_http_proxy_from_the_environment_is_used_unless_no_proxy_names_the_host(
    api: LocalApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    through_proxy: list[str] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = (await reader.readline()).decode()
        through_proxy.append(line.split()[1])
        while (await reader.readline()) not in (b"\r\n", b""):
            pass
        body = json.dumps({"ok": True, "result": ME}).encode()
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        )
        writer.write(body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(proxy, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    try:
        request = AiohttpRequest()
        await request.initialize()
        await request.post(f"http://bot-api.example/bot{TOKEN}/getMe")
        await request.shutdown()
        assert through_proxy == [f"http://bot-api.example/bot{TOKEN}/getMe"]

        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with bot_on(api, "aiohttp") as bot:
            await bot.send_message(7, "direct")
        assert len(through_proxy) == 1
        assert [s.method for s in api.seen] == ["getMe", "sendMessage"]
    finally:
        server.close()
        await server.wait_closed()


def test_a_socks_proxy_is_refused_with_a_pointer_to_httpx() -> None:
    with pytest.raises(RuntimeError, match="PSOASBOT_HTTP=httpx"):
        AiohttpRequest(proxy="socks5://127.0.0.1:1080")


# ------------------------------------------------------------------------------- the setting


def test_the_bot_uses_aiohttp_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.delenv("PSOASBOT_HTTP", raising=False)
    assert Settings.from_environment(tmp_path / ".env").http_client == "aiohttp"
    monkeypatch.setenv("PSOASBOT_HTTP", "HTTPX")
    assert Settings.from_environment(tmp_path / ".env").http_client == "httpx"
    monkeypatch.setenv("PSOASBOT_HTTP", "requests")
    with pytest.raises(
        SettingsError, match=re.escape("PSOASBOT_HTTP must be one of aiohttp, httpx, not 'requests'")
    ):
        Settings.from_environment(tmp_path / ".env")


@pytest.mark.parametrize("client", ["aiohttp", "httpx"])
def test_both_clients_get_python_telegram_bots_pool_sizes_and_our_timeouts(client: str) -> None:
    application = build_application(TelegramSettings(token=TOKEN, http_client=client))
    calls, updates = application.bot.request, application.bot._request[0]
    expected = AiohttpRequest if client == "aiohttp" else HTTPXRequest
    assert type(calls) is expected and type(updates) is expected
    assert calls.read_timeout == 15
    if isinstance(calls, AiohttpRequest) and isinstance(updates, AiohttpRequest):
        assert (calls._connection_pool_size, updates._connection_pool_size) == (64, 1)
        assert (calls._connect_timeout, calls._write_timeout, calls._pool_timeout) == (10, 15, 10)
        assert (updates._read_timeout, updates._pool_timeout) == (5.0, 1.0)  # HTTPXRequest's defaults
    else:
        limits = calls._client_kwargs["limits"]  # type: ignore[attr-defined]
        assert limits.max_connections == 64
        assert updates._client_kwargs["limits"].max_connections == 1  # type: ignore[attr-defined]


def test_an_unknown_client_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown HTTP client"):
        use_http_client(
            ApplicationBuilder(),
            "curl",  # type: ignore[arg-type]
            connection_pool_size=1,
            connect_timeout=1,
            read_timeout=1,
            write_timeout=1,
            pool_timeout=1,
        )


async def test_psoasbot_run_uses_the_client_psoasbot_http_names(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for client in HTTP_CLIENTS:
        monkeypatch.setenv("PSOASBOT_HTTP", client)
        workdir = tmp_path / client
        workdir.mkdir()
        async with new_standin() as standin:
            bot = await BotProcess(standin, workdir).start()
            await TelegramUser(standin).command("/start", "Shall we start?")
            assert await bot.stop() == 0
        started = [json.loads(line) for line in bot.logs().splitlines() if '"bot started"' in line]
        assert [line["http"] for line in started] == [client]


def test_every_test_named_to_run_on_both_clients_exists() -> None:
    import importlib

    for node in BOTH_HTTP_CLIENTS:
        path, name = node.split("::")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        assert callable(getattr(module, name, None)), (
            f"{node} is listed in BOTH_HTTP_CLIENTS but does not exist"
        )
