"""The gateway's plain-HTTP answers, given from ``process_request`` before any upgrade:
/healthz, /readyz, /metrics, and the refusal of a full gateway (503 with a retry hint)."""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from libs.common.runtime.metrics import METRICS_CONTENT_TYPE, metrics_allowed, render_metrics
from libs.common.runtime.resources import Resources
from libs.common.web.readiness import run_checks
from services.websocket import metrics
from services.websocket.settings import WebsocketSettings


class PlainHttp:
    def __init__(
        self, settings: WebsocketSettings, resources: Resources, handling: Callable[[], int]
    ) -> None:
        """``handling``: connections inside the handler now, authenticated or not."""
        self.settings, self.resources, self.handling = settings, resources, handling

    async def route(self, _conn: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path == "/healthz":
            return _response(HTTPStatus.OK, b'{"status":"ok"}', "application/json")
        if path == "/readyz":
            ok, results = await run_checks(self.resources.checks())
            body = json.dumps({"status": "ok" if ok else "unavailable", "checks": results})
            code = HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE
            return _response(code, body.encode(), "application/json")
        if path == "/metrics":
            return self._metrics(request)
        if self.handling() >= self.settings.ws_max_connections:
            return self._full()
        return None

    def _metrics(self, request: Request) -> Response:
        """Here unless HERALD_METRICS_PORT moved it; HERALD_METRICS_TOKEN guards it anywhere."""
        if self.settings.metrics_port is not None:
            return _response(HTTPStatus.NOT_FOUND, b"", "text/plain")
        if not metrics_allowed(self.settings, request.headers.get("Authorization")):
            response = _response(HTTPStatus.UNAUTHORIZED, b"", "text/plain")
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        return _response(HTTPStatus.OK, render_metrics(), METRICS_CONTENT_TYPE)

    def _full(self) -> Response:
        metrics.REFUSED.labels("full").inc()
        retry = str(self.settings.ws_retry_after_s)
        body = json.dumps({"error": "gateway full", "retry_after_s": int(retry)}).encode()
        response = _response(HTTPStatus.SERVICE_UNAVAILABLE, body, "application/json")
        response.headers["Retry-After"] = retry
        return response


def _response(status: HTTPStatus, body: bytes, content_type: str) -> Response:
    headers = Headers([("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return Response(status.value, status.phrase, headers, body)
