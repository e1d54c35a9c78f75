"""Processor: nudge consumer + sweep; HTTP only for /healthz, /readyz, /metrics."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from starlette.applications import Starlette

from libs.common.bus import QueueSpec
from libs.common.bus.topology import PROCESS_KEY, PROCESS_QUEUE, WORK_EXCHANGE
from libs.common.db.engine import is_sqlite
from libs.common.delivery.channels import configure
from libs.common.runtime.resources import Resources
from libs.common.templating.template_budget import set_render_deadline
from libs.common.web.ops_app import ops_app
from services.processor.batch import Deps
from services.processor.catalog import Catalog
from services.processor.collector import tune_collector
from services.processor.directory import Directory, HttpDirectory, TableDirectory
from services.processor.retention import start as start_retention
from services.processor.retention import stop as stop_retention
from services.processor.settings import ProcessorSettings
from services.processor.worker import Processor

PROCESS_SPEC = QueueSpec(PROCESS_QUEUE, bindings=[(WORK_EXCHANGE, PROCESS_KEY)])


async def make_deps(settings: ProcessorSettings, stack: AsyncExitStack) -> Deps:
    channels = configure(settings.channel_plugins)
    catalog = Catalog(
        settings.processor_default_channels,
        settings.processor_catalog_ttl_s,
        available=channels.available(settings),  # no delivery is planned on the others
    )
    directory: Directory = TableDirectory()
    if settings.directory_url:
        import httpx  # only a deployment with an HTTP directory needs a client

        headers = {"X-API-Key": settings.directory_api_key} if settings.directory_api_key else {}
        client = await stack.enter_async_context(
            httpx.AsyncClient(headers=headers, timeout=settings.directory_timeout_s)
        )
        directory = HttpDirectory(client, settings.directory_url, settings.directory_ttl_s)
    return Deps(catalog, directory, settings.max_recipients_per_event)


def concurrency(settings: ProcessorSettings) -> int:
    # SQLite has one writer: parallel transactions would only queue on its lock
    return 1 if is_sqlite(settings.database_url) else settings.processor_concurrency


def create_app(settings: ProcessorSettings) -> Starlette:
    set_render_deadline(settings.template_render_deadline_s)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tune_collector()
        async with AsyncExitStack() as stack:
            resources = await Resources.open(settings, settings)
            stack.push_async_callback(resources.close)
            app.state.resources = resources
            worker = Processor(
                resources.sessions, resources.bus, settings, await make_deps(settings, stack)
            )
            worker.start(concurrency(settings))
            stack.push_async_callback(worker.stop)
            # every nudge in flight waits for its batch: prefetch bounds the batch size
            prefetch = max(settings.amqp_prefetch, settings.processor_batch_max)
            consumer = await resources.bus.consume(PROCESS_SPEC, worker.on_nudge, prefetch)
            stack.push_async_callback(consumer.cancel)
            retention = start_retention(resources.sessions, settings)  # DESIGN §15
            stack.push_async_callback(stop_retention, retention)
            sweep = asyncio.create_task(worker.sweep_forever())
            try:
                yield
            finally:
                sweep.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sweep

    # /healthz, /readyz and /metrics only: Starlette (libs/common/web/ops_app.py)
    app = ops_app(lifespan, lambda: app.state.resources.checks(), settings)
    return app
