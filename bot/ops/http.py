"""/healthz, /readyz and /metrics over HTTP.

They are added to the webhook server (same aiohttp app, beside the webhook path) and,
when PSOASBOT_METRICS_PORT is set, served by a small server of their own, which is the
only way to reach them in polling mode.

- /healthz: 200 whenever the event loop answers; nothing else is checked, so a
  supervisor restarts the bot only when it is truly stuck.
- /readyz: 200 only while the bot is serving (started, not stopping) and the
  database answers with the schema this program needs; otherwise 503 with a
  one-line JSON reason, so a load balancer or an orchestrator holds traffic back.
- /metrics: Prometheus text format, from the bot's own registry.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.ops.metrics import CONTENT_TYPE, Metrics

PATHS = ("/healthz", "/readyz", "/metrics")


class OpsEndpoints:
    def __init__(self, metrics: Metrics, not_ready_reason: Callable[[], Awaitable[str | None]]) -> None:
        self.metrics = metrics
        self.not_ready_reason = not_ready_reason
        self.state = "starting"
        """starting, serving or stopping: only "serving" can be ready."""

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.scrape)

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def readyz(self, request: web.Request) -> web.Response:
        reason = f"the bot is {self.state}" if self.state != "serving" else await self.not_ready_reason()
        if reason is not None:
            return web.json_response({"status": "not ready", "reason": reason}, status=503)
        return web.json_response({"status": "ready"})

    async def scrape(self, request: web.Request) -> web.Response:
        body = await self.metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


async def serve(endpoints: OpsEndpoints, host: str, port: int) -> web.AppRunner:
    """Start a server with only the ops endpoints; the caller cleans the runner up.
    Raises OSError when the address cannot be bound (in use, not ours)."""
    app = web.Application()
    endpoints.add_routes(app)
    runner = web.AppRunner(app, access_log=None)  # scrapes every few seconds are not news
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner
