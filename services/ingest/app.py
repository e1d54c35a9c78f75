"""Ingest: the FastAPI app (events API, later the user API and admin) and the AMQP consumer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from libs.common.clients.mediator_client import MediatorClient
from libs.common.runtime.resources import Resources
from libs.common.security.auth import TokenVerifier
from libs.common.templating.template_budget import set_render_deadline
from libs.common.tenancy.tenants import TenantRegistry
from libs.common.web.body_limit import BodyLimitMiddleware
from libs.common.web.health import health_router
from services.ingest.admin import mount_admin
from services.ingest.digest_api.endpoints import router as digest_router
from services.ingest.errors import install_error_handlers
from services.ingest.intake.authorize import amqp_gate
from services.ingest.intake.consumer import IngestConsumer, ingest_queue
from services.ingest.intake.endpoints import router as events_router
from services.ingest.recipients_api.endpoints import router as recipients_router
from services.ingest.settings import IngestSettings
from services.ingest.static import mount_inbox_page
from services.ingest.telegram_api.endpoints import router as telegram_router
from services.ingest.user_api.endpoints import user_api_router
from services.ingest.user_api.throttle import Throttle


def create_app(settings: IngestSettings, *, consume: bool = True) -> FastAPI:
    set_render_deadline(settings.template_render_deadline_s)  # the admin's template checks

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = await Resources.open(settings, settings)
        app.state.resources = resources
        # which tenants may be served: events (consumer, POST /v1/events) and user tokens
        app.state.tenants = TenantRegistry(resources.sessions)
        app.state.token_verifier = TokenVerifier(settings, tenants=app.state.tenants)
        # the inbox and the preview show only what the user may read (user_api/recheck.py)
        app.state.mediator = MediatorClient(
            settings.mediator_url, settings.mediator_api_key, settings.mediator_timeout_s
        )
        consumer = None
        if consume:
            consumer = IngestConsumer(
                resources.sessions,
                resources.bus,
                batch_size=settings.ingest_batch_size,
                linger_s=settings.ingest_batch_linger_ms / 1000,
                max_recipients=settings.max_recipients_per_event,
                gate=amqp_gate(settings.amqp_producers),
                tenants=app.state.tenants,
            )
            await consumer.start(ingest_queue(settings.ingest_bindings), settings.amqp_prefetch)
        try:
            yield
        finally:
            if consumer is not None:  # graceful: store and ack what was delivered, then close
                await consumer.stop()
            await app.state.mediator.close()
            await resources.close()

    app = FastAPI(title="Herald ingest", version="1", lifespan=lifespan)
    app.state.settings = settings
    app.state.preview_throttle = Throttle(settings.preview_rate_per_s, settings.preview_burst)
    app.include_router(health_router(lambda: app.state.resources.checks(), settings))
    app.include_router(events_router)
    app.include_router(recipients_router)
    app.include_router(user_api_router())
    app.include_router(digest_router)
    app.include_router(telegram_router)
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, own_limits=("/v1/events",))  # before auth reads
    mount_admin(app, settings)
    mount_inbox_page(app)
    return app
