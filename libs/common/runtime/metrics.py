"""Prometheus helpers: one registry per process, a /metrics response for any service, and
where it is served (DESIGN §14).

By default every service answers ``/metrics`` on its own port, unauthenticated (as before).
Production: ``HERALD_METRICS_PORT`` serves it on a separate listener only Prometheus can reach
(and removes it from the public app), and/or ``HERALD_METRICS_TOKEN`` requires
``Authorization: Bearer <token>`` wherever it is served (docs/operations.md).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from pydantic import Field

from libs.common.runtime.settings import HeraldSettings
from libs.common.web.header_limit import MAX_HEADER_BYTES, refusal_response

METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST
METRICS_PATH = "/metrics"
HEAD_TIMEOUT_S = 10.0  # a scraper sends its request at once
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


def _response(
    status: int, body: bytes, headers: dict[str, str] | None = None, length: int | None = None
) -> bytes:
    """A whole HTTP/1.1 response; ``length`` is the body's for HEAD (sent without it)."""
    fields = {**(headers or {}), "content-length": str(len(body) if length is None else length)}
    head = f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in fields.items()
    )
    return (head + "connection: close\r\n\r\n").encode("latin-1") + body


def metrics_allowed(settings: MetricsSettings | None, authorization: str | None) -> bool:
    """True when no token is configured, or the header carries it (constant-time compare)."""
    if settings is None or not settings.metrics_token:
        return True
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), settings.metrics_token.encode())


class MetricsListener:
    """``/metrics`` alone on HERALD_METRICS_PORT, in the service's own event loop, on asyncio
    streams (no web framework: aiohttp's server cost about 7 MiB per service, DESIGN §12).

    One request per connection (answered with ``connection: close``; Prometheus reconnects for
    the next scrape). The request head is read up to the blank line: past MAX_HEADER_BYTES it
    gets a 431 and the connection is closed (libs/common/web/header_limit.py), and one that has
    not arrived within HEAD_TIMEOUT_S is closed. A body is never read."""

    def __init__(self, settings: MetricsSettings) -> None:
        self._s = settings
        self._server: asyncio.Server | None = None
        self.port: int | None = None  # the bound port (HERALD_METRICS_PORT=0: an ephemeral one)

    async def start(self) -> None:
        if self._s.metrics_port is None:
            return
        self._server = await asyncio.start_server(
            self._connection, self._s.metrics_host, self._s.metrics_port, limit=MAX_HEADER_BYTES
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("metrics on %s:%d%s", self._s.metrics_host, self.port, METRICS_PATH)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT_S)
            writer.write(self._answer(head))
            await writer.drain()
        except (asyncio.LimitOverrunError, ValueError):  # no blank line within the cap
            writer.write(refusal_response())
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass  # gone, or too slow: nothing to answer
        finally:
            writer.close()

    def _answer(self, head: bytes) -> bytes:
        request_line, *lines = head.decode("latin-1").split("\r\n")
        method, target, version = [*request_line.split(" "), "", "", ""][:3]
        if not version.startswith("HTTP/1."):
            return _response(400, b"")
        if target.partition("?")[0] != METRICS_PATH:
            return _response(404, b"")
        if method not in ("GET", "HEAD"):
            return _response(405, b"", {"allow": "GET"})
        headers = dict(line.partition(":")[::2] for line in lines if line)
        auth = next((v.strip() for k, v in headers.items() if k.lower() == "authorization"), None)
        if not metrics_allowed(self._s, auth):
            return _response(401, b"", {"www-authenticate": "Bearer"})
        body = render_metrics()
        return _response(
            200,
            b"" if method == "HEAD" else body,
            {"content-type": METRICS_CONTENT_TYPE},
            len(body),
        )

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    @asynccontextmanager
    async def serving(self, state: Any) -> AsyncIterator[None]:
        """Listening for the duration (an app's lifespan), as ``state.metrics_listener``."""
        await self.start()
        state.metrics_listener = self
        try:
            yield
        finally:
            await self.close()
