"""Websocket gateway (DESIGN §8). Skeleton: serves health and metrics; the protocol grows here.

Built directly on ``websockets`` (not ASGI): one process holds 15,000 connections, and the
plain-HTTP endpoints are answered from ``process_request`` before any upgrade.
"""

from __future__ import annotations

import asyncio
import json
from http import HTTPStatus

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from libs.common.health import run_checks
from libs.common.metrics import METRICS_CONTENT_TYPE, render_metrics
from libs.common.resources import Resources
from services.websocket.settings import WebsocketSettings


class Gateway:
    def __init__(self, settings: WebsocketSettings) -> None:
        self.settings = settings
        self.resources: Resources | None = None

    async def start(self, host: str, port: int) -> Server:
        self.resources = await Resources.open(self.settings, self.settings)
        return await serve(self.handle, host, port, process_request=self.http)

    async def close(self) -> None:
        if self.resources is not None:
            await self.resources.close()

    async def http(self, _conn: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path == "/healthz":
            return _response(HTTPStatus.OK, b'{"status":"ok"}', "application/json")
        if path == "/readyz":
            assert self.resources is not None
            ok, results = await run_checks(self.resources.checks())
            body = json.dumps({"status": "ok" if ok else "unavailable", "checks": results})
            code = HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE
            return _response(code, body.encode(), "application/json")
        if path == "/metrics":
            return _response(HTTPStatus.OK, render_metrics(), METRICS_CONTENT_TYPE)
        return None

    async def handle(self, conn: ServerConnection) -> None:
        await conn.close(1011, "gateway protocol not implemented yet")


def _response(status: HTTPStatus, body: bytes, content_type: str) -> Response:
    headers = Headers([("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return Response(status.value, status.phrase, headers, body)


async def run(settings: WebsocketSettings, host: str, port: int) -> None:
    gateway = Gateway(settings)
    server = await gateway.start(host, port)
    try:
        await server.serve_forever()
    except asyncio.CancelledError:
        pass
    finally:
        server.close()
        await server.wait_closed()
        await gateway.close()
