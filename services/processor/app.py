"""Processor: nudge consumer + sweep; HTTP only for /healthz, /readyz, /metrics."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from libs.common.bus import QueueSpec
from libs.common.bus.topology import PROCESS_KEY, PROCESS_QUEUE, WORK_EXCHANGE
from libs.common.health import health_router
from libs.common.resources import Resources
from services.processor.settings import ProcessorSettings
from services.processor.worker import Processor

PROCESS_SPEC = QueueSpec(PROCESS_QUEUE, bindings=[(WORK_EXCHANGE, PROCESS_KEY)])


def create_app(settings: ProcessorSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        resources = await Resources.open(settings, settings)
        app.state.resources = resources
        worker = Processor(resources.sessions, resources.bus, settings)
        consumer = await resources.bus.consume(
            PROCESS_SPEC, worker.on_nudge, settings.amqp_prefetch
        )
        sweep = asyncio.create_task(worker.sweep_forever())
        try:
            yield
        finally:
            await consumer.cancel()
            sweep.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweep
            await resources.close()

    app = FastAPI(title="Herald processor", lifespan=lifespan)
    app.include_router(health_router(lambda: app.state.resources.checks()))
    return app
