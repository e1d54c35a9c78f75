"""/healthz, /readyz and /metrics for every FastAPI service (DESIGN §14)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, FastAPI, Header, Response
from fastapi.responses import JSONResponse

from libs.common.metrics import (
    METRICS_CONTENT_TYPE,
    MetricsListener,
    MetricsSettings,
    metrics_allowed,
    render_metrics,
)

Check = tuple[str, Callable[[], Awaitable[None]]]
READY_TIMEOUT_S = 2.0


async def run_checks(checks: Sequence[Check]) -> tuple[bool, dict[str, str]]:
    import asyncio

    results: dict[str, str] = {}
    for name, check in checks:
        try:
            await asyncio.wait_for(check(), READY_TIMEOUT_S)
            results[name] = "ok"
        except Exception as exc:
            results[name] = f"error: {type(exc).__name__}: {exc}"[:300]
    return all(v == "ok" for v in results.values()), results


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
        await listener.start()
        app.state.metrics_listener = listener
        try:
            yield
        finally:
            await listener.close()

    router = APIRouter(tags=["operations"], lifespan=lifespan)

    @router.get("/healthz", summary="Alive: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="Ready: its database and broker are reachable")
    async def readyz() -> JSONResponse:
        ok, results = await run_checks(checks())
        body = {"status": "ok" if ok else "unavailable", "checks": results}
        return JSONResponse(body, status_code=200 if ok else 503)

    if metrics is None or metrics.metrics_port is None:

        @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
        async def scrape(authorization: Annotated[str | None, Header()] = None) -> Response:
            if not metrics_allowed(metrics, authorization):
                return Response(status_code=401, headers={"WWW-Authenticate": "Bearer"})
            return Response(render_metrics(), media_type=METRICS_CONTENT_TYPE)

    return router
