"""Prometheus helpers: one registry per process, a /metrics response for any service, and
where it is served (DESIGN §14).

By default every service answers ``/metrics`` on its own port, unauthenticated (as before).
Production: ``HERALD_METRICS_PORT`` serves it on a separate listener only Prometheus can reach
(and removes it from the public app), and/or ``HERALD_METRICS_TOKEN`` requires
``Authorization: Bearer <token>`` wherever it is served (docs/operations.md).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from pydantic import Field

from libs.common.settings import HeraldSettings

if TYPE_CHECKING:
    from aiohttp import web

METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST
METRICS_PATH = "/metrics"
log = logging.getLogger("herald.metrics")


class MetricsSettings(HeraldSettings):
    metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65_535,
        description="serve /metrics on this port instead of the service's own (production: "
        "a port only Prometheus reaches); websocket --workers N: worker i uses port + i",
    )
    metrics_host: str = Field(default="0.0.0.0", description="interface of HERALD_METRICS_PORT")
    metrics_token: str | None = Field(
        default=None,
        min_length=16,
        description="require `Authorization: Bearer <token>` on /metrics",
    )


def render_metrics() -> bytes:
    return generate_latest(REGISTRY)


def metrics_allowed(settings: MetricsSettings | None, authorization: str | None) -> bool:
    """True when no token is configured, or the header carries it (constant-time compare)."""
    if settings is None or not settings.metrics_token:
        return True
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), settings.metrics_token.encode())


class MetricsListener:
    """``/metrics`` alone on HERALD_METRICS_PORT, served by aiohttp in the service's own event
    loop (imported only when the port is set: the idle services stay small)."""

    def __init__(self, settings: MetricsSettings) -> None:
        self._s = settings
        self._runner: web.BaseRunner | None = None
        self.port: int | None = None  # the bound port (HERALD_METRICS_PORT=0: an ephemeral one)

    async def start(self) -> None:
        if self._s.metrics_port is None:
            return
        from aiohttp import web

        from libs.common.aiohttp_limit import capped_runner

        self._runner = capped_runner(self._scrape, access_log=None)  # request heads capped
        await self._runner.setup()
        await web.TCPSite(self._runner, self._s.metrics_host, self._s.metrics_port).start()
        self.port = self._runner.addresses[0][1]
        log.info("metrics on %s:%d%s", self._s.metrics_host, self.port, METRICS_PATH)

    async def _scrape(self, request: web.BaseRequest) -> web.Response:
        from aiohttp import web

        if request.path != METRICS_PATH:
            return web.Response(status=404)
        if request.method not in ("GET", "HEAD"):
            return web.Response(status=405, headers={"Allow": "GET"})
        if not metrics_allowed(self._s, request.headers.get("Authorization")):
            return web.Response(status=401, headers={"WWW-Authenticate": "Bearer"})
        return web.Response(body=render_metrics(), headers={"Content-Type": METRICS_CONTENT_TYPE})

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @asynccontextmanager
    async def serving(self, state: Any) -> AsyncIterator[None]:
        """Listening for the duration (an app's lifespan), as ``state.metrics_listener``."""
        await self.start()
        state.metrics_listener = self
        try:
            yield
        finally:
            await self.close()
