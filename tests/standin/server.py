"""The HTTP face of the stand-in: Bot API routes, request decoding, faults and the call log.

Why separate from the methods: everything that is about *how* a request arrives (token in the
path, JSON vs. form vs. multipart, JSON-encoded form values, uploads referenced as
``attach://``) and *what wraps* every call (injected faults, the spec check, logging) lives
here once, so each method handler only sees clean parameters.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from .errors import ApiError, bad_request
from .faults import FaultPlan
from .media import MAX_UPLOAD_BYTES, Upload
from .methods import ApiRequest, BotApiMethods, Handler
from .records import Call
from .schema import ApiSpec, decode_value
from .state import World

FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


class BotApiHttp:
    """An aiohttp server on 127.0.0.1 with a free port, answering ``/bot{token}/{method}``."""

    def __init__(
        self,
        token: str,
        world: World,
        methods: BotApiMethods,
        faults: FaultPlan,
        spec: ApiSpec | None,
    ) -> None:
        self.token = token
        self.world = world
        self.methods = methods
        self.faults = faults
        self.spec = spec
        self.port: int | None = None
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Wake long polls and injected delays first so shutdown never waits on them."""
        self.world.closing = True
        self._closing.set()
        self.world.changed.notify()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def root(self) -> str:
        if self.port is None:
            raise RuntimeError("the stand-in is not running; use `async with BotApiStandIn()`")
        return f"http://127.0.0.1:{self.port}"

    # ----------------------------------------------------------------- handling

    async def _handle(self, request: web.Request) -> web.Response:
        """One Bot API call: route, decode, apply faults and checks, run, log, answer."""
        arrival, wall_time = time.monotonic(), time.time()
        method = request.match_info["method"]
        params: dict[str, Any] = {}
        try:
            method, handler = self._route(request.match_info["token"], method)
            params = await read_params(request, method, self.spec)
            result = await self._run(method, handler, params, lambda: _connected(request))
            status, body = 200, {"ok": True, "result": result}
        except ApiError as error:
            status, body = error.error_code, error.to_json()
        call = Call(
            seq=self.world.tick(),
            method=method,
            params=params,
            time=arrival,
            wall_time=wall_time,
            status=status,
            result=body.get("result"),
            error=body.get("description"),
        )
        self.world.record(call)
        return web.json_response(body, status=status)

    def _route(self, token: str, method: str) -> tuple[str, Handler]:
        if token != self.token:
            raise ApiError(401, "Unauthorized")
        found = self.methods.lookup(method)
        spec_names = {name.lower() for name in self.spec.methods} if self.spec else set()
        if found is None and method.lower() in spec_names:
            raise ApiError(501, f"Not Implemented: the stand-in does not implement {method}")
        if found is None or (self.spec and found[0].lower() not in spec_names):
            raise ApiError(404, "Not Found")
        return found

    async def _run(
        self,
        method: str,
        handler: Handler,
        params: dict[str, Any],
        connected: Callable[[], bool],
    ) -> Any:
        """Faults first (as if Telegram failed before looking), then the spec, then the work."""
        chat_id = params.get("chat_id")
        delay = self.faults.take_delay(method, chat_id)
        if delay and delay.when == "before":
            await self._pause(delay.seconds)
        try:
            injected = self.faults.take_error(method, chat_id)
            if injected:
                raise injected
            if self.spec:
                self.spec.check_request(method, params)
            return await handler(ApiRequest(method, params, connected))
        finally:
            if delay and delay.when == "after":
                await self._pause(delay.seconds)

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake early when the stand-in shuts down so it never hangs a test run."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    async def _download(self, request: web.Request) -> web.Response:
        """``{file_base_url}{token}/{file_path}``: the bytes behind a getFile answer."""
        if request.match_info["token"] != self.token:
            return web.json_response(ApiError(401, "Unauthorized").to_json(), status=401)
        path = request.match_info["path"]
        for stored in self.world.files.values():
            if stored.file_path == path and stored.data is not None:
                return web.Response(body=stored.data, content_type="application/octet-stream")
        return web.json_response(ApiError(404, "Not Found").to_json(), status=404)


def _connected(request: web.Request) -> bool:
    """Whether the client is still waiting for this answer."""
    transport = request.transport
    return transport is not None and not transport.is_closing()


async def read_params(request: web.Request, method: str, spec: ApiSpec | None) -> dict[str, Any]:
    """Query string and body merged, values decoded to JSON types, uploads resolved.

    python-telegram-bot posts ``application/x-www-form-urlencoded`` (``multipart/form-data``
    with files) where every non-string value is a JSON string; other clients post JSON.
    """
    raw: dict[str, Any] = dict(request.query)
    uploads: dict[str, Upload] = {}
    if request.body_exists:
        if request.content_type == "application/json":
            raw.update(await _read_json(request))
        elif request.content_type in FORM_TYPES:
            form = await _read_form(request)
            for name, value in form.items():
                if isinstance(value, web.FileField):
                    uploads[name] = Upload(value.filename, value.content_type, value.file.read())
                else:
                    raw[name] = value if isinstance(value, str) else bytes(value).decode()
    params = {
        name: decode_value(name, value, spec.field_types(method, name) if spec else None)
        for name, value in raw.items()
    }
    return _attach_uploads(params, uploads)


async def _read_json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise bad_request("can't parse JSON encoded request body") from None
    if not isinstance(body, dict):
        raise bad_request("JSON object expected as request body")
    return body


async def _read_form(request: web.Request) -> Any:
    try:
        return await request.post()
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, "Request Entity Too Large") from None


def _attach_uploads(params: dict[str, Any], uploads: dict[str, Upload]) -> dict[str, Any]:
    """Put each upload where the request refers to it (``attach://name`` or its own field)."""
    referenced: set[str] = set()
    for name, value in list(params.items()):
        if isinstance(value, str) and value.startswith("attach://"):
            key = value.removeprefix("attach://")
            if key not in uploads:
                raise bad_request(f"file {key} was not attached to the request")
            params[name] = uploads[key]
            referenced.add(key)
    for name, upload in uploads.items():
        if name not in referenced:
            params[name] = upload
    return params
