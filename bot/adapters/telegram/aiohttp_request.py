"""python-telegram-bot's HTTP layer on aiohttp instead of httpx.

Why: every Bot API call goes through this class, and python-telegram-bot's default
(HTTPXRequest) spends several times more CPU per call in httpx and httpcore than
aiohttp does for the same request. The bot makes about two calls per update and one
per reminder, so the HTTP stack is most of what an update costs. aiohttp is already
a dependency (it serves the webhook).

It behaves like HTTPXRequest where the bot can notice:
- one ClientSession per instance, opened in `initialize()` and closed in `shutdown()`,
  with keep-alive and at most `connection_pool_size` connections;
- the same four timeouts and defaults, overridable per call (getUpdates passes its
  long-poll read timeout); every kind of timeout raises `TimedOut`, a request that
  waited longer than the pool timeout for a free connection raises `TimedOut` with
  python-telegram-bot's own "Pool timeout" message and was never sent;
- transport failures raise `NetworkError`; HTTP status codes are left to
  `BaseRequest`, which maps 400/401/403/404/409/429/502/... exactly as it does for
  HTTPXRequest, because `do_request` returns (status, body) for every answer;
- uploads (sendDocument, sendPhoto) are multipart/form-data with the parameters as
  plain fields and each file with its file name and content type, encoded as httpx
  encodes them; other calls carry their parameters as one JSON body, which the Bot
  API accepts and which is cheaper to build than a form;
- no redirects followed, no cookies kept;
- proxies: an HTTP(S) proxy URL given to the constructor, else the standard
  HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY variables (as httpx honours them),
  resolved once per host. SOCKS proxies and HTTP/2 are not supported: use
  PSOASBOT_HTTP=httpx for those.

One difference is inherent to aiohttp: it has no timer for writing a request body.
The write timeout therefore bounds the whole request together with the others (the
request may take at most connect + pool + write + read seconds), so a stalled upload
still ends in `TimedOut`, later than with httpx.
"""

from __future__ import annotations

import asyncio
import functools
import json
import mimetypes
import re
import ssl
import urllib.request
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final, Literal

import aiohttp
from aiohttp import hdrs, payload
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData
from yarl import URL

if TYPE_CHECKING:
    from telegram.ext import ApplicationBuilder

HttpClient = Literal["aiohttp", "httpx"]
HTTP_CLIENTS: Final[tuple[HttpClient, ...]] = ("aiohttp", "httpx")

POOL_TIMEOUT_MESSAGE: Final = (
    "Pool timeout: All connections in the connection pool are occupied. Request was *not* sent to "
    "Telegram. Consider adjusting the connection pool size or the pool timeout."
)
"""python-telegram-bot's own wording (HTTPXRequest), so logs read the same with either class."""

_JSON_HEADERS: Final[Mapping[str, str]] = {"Content-Type": "application/json"}
_URL_CACHE_SIZE: Final = 512
# httpx writes multipart names the HTML5 way: '"' and control characters as %XX; aiohttp
# (quote_fields=False) then escapes the backslash, as httpx does too.
_HTML5_ESCAPES: Final = re.compile(r'["\x00-\x1a\x1c-\x1f]')

_Timeout = float | None


class AiohttpRequest(BaseRequest):
    """A `telegram.request.BaseRequest` on one aiohttp ClientSession.

    The arguments and their defaults are HTTPXRequest's, so the two are interchangeable.
    """

    __slots__ = (
        "_connect_timeout",
        "_connection_pool_size",
        "_media_write_timeout",
        "_pool",
        "_pool_timeout",
        "_proxies",
        "_proxy",
        "_proxy_for",
        "_read_timeout",
        "_session",
        "_timeouts",
        "_trust_env",
        "_urls",
        "_write_timeout",
    )

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: _Timeout = 5.0,
        write_timeout: _Timeout = 5.0,
        connect_timeout: _Timeout = 5.0,
        pool_timeout: _Timeout = 1.0,
        media_write_timeout: _Timeout = 20.0,
        proxy: str | None = None,
        trust_env: bool = True,
    ) -> None:
        if connection_pool_size < 1:
            raise ValueError("connection_pool_size must be at least 1")
        if proxy is not None:
            _check_proxy(proxy)
        self._connection_pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._proxy = proxy
        self._trust_env = trust_env
        self._proxies: dict[str, str] = {}
        self._proxy_for: dict[str, str | None] = {}
        self._session: aiohttp.ClientSession | None = None
        self._pool: asyncio.Semaphore | None = None
        self._timeouts: dict[tuple[_Timeout, _Timeout, _Timeout, _Timeout], aiohttp.ClientTimeout] = {}
        self._urls: dict[str, URL] = {}

    @property
    def read_timeout(self) -> float | None:
        """The read timeout used when a call does not pass its own (BaseRequest asks for it)."""
        return self._read_timeout

    async def initialize(self) -> None:
        """Open the session; the connector and session must be made inside the running loop."""
        if self._session is not None and not self._session.closed:
            return
        if self._proxy is None and self._trust_env:
            self._proxies = {
                scheme: url
                for scheme, url in urllib.request.getproxies_environment().items()
                if scheme in ("http", "https", "all")
            }
            for url in self._proxies.values():
                _check_proxy(url)
        self._proxy_for = {}
        self._pool = asyncio.Semaphore(self._connection_pool_size)
        connector = aiohttp.TCPConnector(
            limit=self._connection_pool_size,
            limit_per_host=0,
            ssl=_ssl_context(),
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={hdrs.USER_AGENT: self.USER_AGENT},
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=self._client_timeout(
                self._connect_timeout, self._read_timeout, self._write_timeout, self._pool_timeout
            ),
            trust_env=False,  # proxies from the environment are resolved here, once per host
        )

    async def shutdown(self) -> None:
        """Close the session and its connections; a second call does nothing."""
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """One HTTP request; (status, body) for any answer, so BaseRequest maps the status codes."""
        session, pool = self._session, self._pool
        if session is None or session.closed or pool is None:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        uploads = request_data is not None and request_data.contains_files
        if isinstance(read_timeout, DefaultValue):
            read_timeout = self._read_timeout
        if isinstance(connect_timeout, DefaultValue):
            connect_timeout = self._connect_timeout
        if isinstance(pool_timeout, DefaultValue):
            pool_timeout = self._pool_timeout
        if isinstance(write_timeout, DefaultValue):
            write_timeout = self._media_write_timeout if uploads else self._write_timeout
        timeout = self._client_timeout(connect_timeout, read_timeout, write_timeout, pool_timeout)

        data: bytes | aiohttp.MultipartWriter | None = None
        headers: Mapping[str, str] | None = None
        if request_data is not None:
            if uploads:
                data = _multipart(request_data)
            else:
                parameters = request_data.parameters
                if parameters:
                    data = json.dumps(parameters, separators=(",", ":")).encode()
                    headers = _JSON_HEADERS

        await self._acquire(pool, pool_timeout)
        try:
            async with session.request(
                method,
                self._url(url),
                data=data,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
                proxy=self._proxy_of(url),
            ) as response:
                return response.status, await response.read()
        except TimeoutError as error:  # asyncio's, and aiohttp's connect and socket-read timeouts
            raise TimedOut from error
        except aiohttp.ClientError as error:
            raise NetworkError(f"aiohttp.{error.__class__.__name__}: {error}") from error
        finally:
            pool.release()

    # ------------------------------------------------------------------ helpers

    @staticmethod
    async def _acquire(pool: asyncio.Semaphore, pool_timeout: float | None) -> None:
        """Wait at most `pool_timeout` for one of the pool's connections."""
        if not pool.locked():
            await pool.acquire()  # returns at once: no timer needed
            return
        try:
            async with asyncio.timeout(pool_timeout):
                await pool.acquire()
        except TimeoutError as error:
            raise TimedOut(POOL_TIMEOUT_MESSAGE) from error

    def _client_timeout(
        self, connect: _Timeout, read: _Timeout, write: _Timeout, pool: _Timeout
    ) -> aiohttp.ClientTimeout:
        """aiohttp's timeouts for PTB's four, made once per distinct combination.

        connect: resolving, connecting and TLS; read: the longest wait for the next bytes of
        the answer (aiohttp's sock_read, as httpx's read); pool: our semaphore (see _acquire);
        write: aiohttp has none, so it bounds the whole request with the others.
        """
        key = (connect, read, write, pool)
        found = self._timeouts.get(key)
        if found is None:
            # The pool wait comes before aiohttp's timer starts, so it is not part of the total.
            parts = (connect, read, write)
            total = None if None in parts else sum(v for v in parts if v is not None)
            found = aiohttp.ClientTimeout(total=total, connect=connect, sock_connect=connect, sock_read=read)
            self._timeouts[key] = found
        return found

    def _url(self, url: str) -> URL:
        """Parsing a URL costs more than the rest of building a request; a bot calls a few dozen."""
        parsed = self._urls.get(url)
        if parsed is None:
            parsed = URL(url)
            if len(self._urls) < _URL_CACHE_SIZE:
                self._urls[url] = parsed
        return parsed

    def _proxy_of(self, url: str) -> str | None:
        if self._proxy is not None or not self._proxies:
            return self._proxy
        origin = url.split("/", 3)[:3]
        key = "/".join(origin)
        if key not in self._proxy_for:
            parsed = URL(url)
            host = parsed.host or ""
            chosen = self._proxies.get(parsed.scheme) or self._proxies.get("all")
            if chosen is not None and urllib.request.proxy_bypass(host):
                chosen = None
            self._proxy_for[key] = chosen
        return self._proxy_for[key]


def _check_proxy(url: str) -> None:
    scheme = URL(url).scheme
    if scheme not in ("http", "https"):
        raise RuntimeError(
            f"AiohttpRequest supports HTTP(S) proxies only, not {scheme!r}; set PSOASBOT_HTTP=httpx "
            "for a SOCKS proxy"
        )


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """Verify Telegram's certificate against certifi's bundle, as httpx does (certifi comes with
    httpx), so a host without a system CA store behaves the same with either class. Loading the
    bundle takes a few milliseconds, so every session of the process shares one context."""
    try:
        import certifi
    except ImportError:  # pragma: no cover - httpx depends on certifi
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


def _html5_name(value: str) -> str:
    return _HTML5_ESCAPES.sub(lambda match: f"%{ord(match.group(0)):02X}", value)


def _multipart(request_data: RequestData) -> aiohttp.MultipartWriter:
    """multipart/form-data as httpx builds it: the parameters first, as plain fields without a
    content type, then each file with its file name and content type."""
    writer = aiohttp.MultipartWriter("form-data")
    for name, value in request_data.json_parameters.items():
        part = payload.StringPayload(value)
        part.headers.popall(hdrs.CONTENT_TYPE, None)
        part.set_content_disposition("form-data", quote_fields=False, name=_html5_name(name))
        writer.append_payload(part)
    for name, (filename, content, content_type) in request_data.multipart_data.items():
        body: Any = content
        if not content_type:
            content_type = mimetypes.guess_type(filename or "")[0] or "application/octet-stream"
        upload = payload.get_payload(body, content_type=content_type)
        upload.set_content_disposition(
            "form-data", quote_fields=False, name=_html5_name(name), filename=_html5_name(filename or name)
        )
        upload.headers[hdrs.CONTENT_TYPE] = upload.headers.pop(hdrs.CONTENT_TYPE)  # after the name, as httpx
        writer.append_payload(upload)
    return writer


def use_http_client(
    builder: ApplicationBuilder,  # type: ignore[type-arg]
    client: HttpClient,
    *,
    connection_pool_size: int,
    connect_timeout: float,
    read_timeout: float,
    write_timeout: float,
    pool_timeout: float,
) -> ApplicationBuilder:  # type: ignore[type-arg]
    """Give an ApplicationBuilder its request classes.

    Both clients get the same settings: `connection_pool_size` connections and these timeouts
    for Bot API calls, and for getUpdates python-telegram-bot's own defaults (one connection,
    HTTPXRequest's default timeouts; the poll passes its long read timeout per call).
    """
    if client == "httpx":
        return (
            builder.connection_pool_size(connection_pool_size)
            .connect_timeout(connect_timeout)
            .read_timeout(read_timeout)
            .write_timeout(write_timeout)
            .pool_timeout(pool_timeout)
        )
    if client != "aiohttp":
        raise ValueError(f"unknown HTTP client {client!r}; expected one of {HTTP_CLIENTS}")
    calls = AiohttpRequest(
        connection_pool_size=connection_pool_size,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        write_timeout=write_timeout,
        pool_timeout=pool_timeout,
    )
    return builder.request(calls).get_updates_request(AiohttpRequest(connection_pool_size=1))


__all__ = ["HTTP_CLIENTS", "AiohttpRequest", "HttpClient", "use_http_client"]
