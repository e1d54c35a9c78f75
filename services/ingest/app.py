"""Ingest: the FastAPI app (events API, later the user API and admin) and the AMQP consumer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from libs.common.auth import TokenVerifier
from libs.common.health import health_router
from libs.common.resources import Resources
from services.ingest.consumer import IngestConsumer, ingest_queue
from services.ingest.events_api import router as events_router
from services.ingest.settings import IngestSettings


def create_app(settings: IngestSettings, *, consume: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = await Resources.open(settings, settings)
        app.state.resources = resources
        consumer = None
        if consume:
            handler = IngestConsumer(resources.sessions, resources.bus)
            consumer = await resources.bus.consume(
                ingest_queue(settings.ingest_bindings), handler.handle, settings.amqp_prefetch
            )
        try:
            yield
        finally:
            if consumer is not None:
                await consumer.cancel()
            await resources.close()

    app = FastAPI(title="Herald ingest", version="1", lifespan=lifespan)
    app.state.settings = settings
    app.state.token_verifier = TokenVerifier(settings)
    app.include_router(health_router(lambda: app.state.resources.checks()))
    app.include_router(events_router)
    return app
