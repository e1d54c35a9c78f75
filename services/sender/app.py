"""Sender: nudge consumer + send loop; HTTP only for /healthz, /readyz, /metrics."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from libs.common.bus import Bus, QueueSpec
from libs.common.bus.topology import SEND_KEY, SEND_QUEUE, WORK_EXCHANGE
from libs.common.health import health_router
from libs.common.resources import Resources
from services.sender.providers.base import Provider
from services.sender.providers.browser import BrowserProvider
from services.sender.providers.email_smtp import SmtpProvider
from services.sender.providers.outbox import OutboxProvider
from services.sender.settings import SenderSettings
from services.sender.worker import Sender

SEND_SPEC = QueueSpec(SEND_QUEUE, bindings=[(WORK_EXCHANGE, SEND_KEY)])


def build_providers(settings: SenderSettings, bus: Bus) -> dict[str, Provider]:
    providers: dict[str, Provider] = {"browser": BrowserProvider(bus)}
    if settings.smtp_host:
        providers["email"] = SmtpProvider(settings)
    elif settings.outbox_dir:
        providers["email"] = OutboxProvider(settings.outbox_dir, settings.email_from)
    return providers


def create_app(settings: SenderSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = await Resources.open(settings, settings)
        app.state.resources = resources
        providers = build_providers(settings, resources.bus)
        for provider in providers.values():
            await provider.start()
        sender = Sender(resources.sessions, providers, settings)
        consumer = await resources.bus.consume(SEND_SPEC, sender.on_nudge, settings.amqp_prefetch)
        loop = asyncio.create_task(sender.run_forever())
        try:
            yield
        finally:
            await consumer.cancel()
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop
            for provider in providers.values():
                await provider.close()
            await resources.close()

    app = FastAPI(title="Herald sender", lifespan=lifespan)
    app.include_router(health_router(lambda: app.state.resources.checks()))
    return app
