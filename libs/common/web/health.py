"""/healthz, /readyz and /metrics for the FastAPI services (DESIGN §14); processor and sender
use ``ops_app.py``, the same answers without FastAPI."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, FastAPI, Header, Response
from fastapi.responses import JSONResponse

from libs.common.runtime.metrics import (
    METRICS_CONTENT_TYPE,
    MetricsListener,
    MetricsSettings,
    metrics_allowed,
    render_metrics,
)
from libs.common.web.readiness import Check, readiness


def health_router(
    checks: Callable[[], Sequence[Check]], metrics: MetricsSettings | None = None
) -> APIRouter:
    """``checks`` is called per request, so it can read resources the lifespan created.
    ``metrics``: where /metrics is served and whether it needs a token; the router's lifespan
    (run by the app that includes it) owns the separate listener."""
    listener = MetricsListener(metrics) if metrics is not None else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if listener is None:
            yield
            return
        async with listener.serving(app.state):
            yield

    router = APIRouter(tags=["operations"], lifespan=lifespan)

    @router.get("/healthz", summary="Alive: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Ready: its database and broker are reachable")
    async def readyz() -> JSONResponse:
        status, body = await readiness(checks())
        return JSONResponse(body, status_code=status)

    if metrics is None or metrics.metrics_port is None:

        @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
        async def scrape(authorization: Annotated[str | None, Header()] = None) -> Response:
            if not metrics_allowed(metrics, authorization):
                return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
            return Response(render_metrics(), media_type=METRICS_CONTENT_TYPE)

    return router
