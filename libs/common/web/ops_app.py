"""The HTTP side of a service that serves nothing but ``/healthz``, ``/readyz`` and
``/metrics`` (processor, sender; DESIGN §14): plain Starlette. FastAPI and its OpenAPI
machinery would cost about 6 MiB per process for three fixed routes (DESIGN §12).

The answers are ``health.py``'s: the same bodies, ``HERALD_METRICS_PORT`` and
``HERALD_METRICS_TOKEN`` alike.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from libs.common.runtime.metrics import (
    METRICS_CONTENT_TYPE,
    MetricsListener,
    MetricsSettings,
    metrics_allowed,
    render_metrics,
)
from libs.common.web.readiness import Check, readiness

Lifespan = Callable[[Starlette], AbstractAsyncContextManager[None]]


def ops_app(
    lifespan: Lifespan, checks: Callable[[], Sequence[Check]], metrics: MetricsSettings
) -> Starlette:
    """``lifespan`` is the service's own; ``checks`` is called per request, so it can read
    what the lifespan created. The metrics listener (when the port is set) starts after it."""
    listener = MetricsListener(metrics)

    @asynccontextmanager
    async def with_listener(app: Starlette) -> AsyncIterator[None]:
        async with lifespan(app), listener.serving(app.state):
            yield

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        status, body = await readiness(checks())
        return JSONResponse(body, status_code=status)

    async def scrape(request: Request) -> Response:
        if not metrics_allowed(metrics, request.headers.get("Authorization")):
            return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
        return Response(render_metrics(), media_type=METRICS_CONTENT_TYPE)

    routes = [Route("/healthz", healthz), Route("/readyz", readyz)]
    if metrics.metrics_port is None:
        routes.append(Route("/metrics", scrape))
    return Starlette(routes=routes, lifespan=with_listener)
