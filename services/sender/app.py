"""Sender: nudge consumer + send loop (+ Telegram linking); HTTP only for health and metrics."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette

from libs.common.bus import QueueSpec
from libs.common.bus.topology import SEND_KEY, SEND_QUEUE, WORK_EXCHANGE
from libs.common.clients.mediator_client import MediatorClient
from libs.common.runtime.resources import Resources
from libs.common.templating.template_budget import set_render_deadline
from libs.common.web.ops_app import ops_app
from services.sender.channels import build_providers, telegram_bot
from services.sender.digests.scheduler import start as start_digests
from services.sender.settings import SenderSettings
from services.sender.visibility import start as start_visibility
from services.sender.worker import Sender

SEND_SPEC = QueueSpec(SEND_QUEUE, bindings=[(WORK_EXCHANGE, SEND_KEY)])
STOP_GRACE_S = 10.0  # let the batch in hand finish and its outcomes be written


def create_app(settings: SenderSettings) -> Starlette:
    set_render_deadline(settings.template_render_deadline_s)  # digest templates

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        resources = await Resources.open(settings, settings)
        app.state.resources = resources
        mediator = MediatorClient(
            settings.mediator_url, settings.mediator_api_key, settings.mediator_timeout_s
        )
        bot = telegram_bot(settings)
        providers = build_providers(settings, resources.bus, resources.sessions, bot)
        for provider in providers.values():
            await provider.start()
        sender = Sender(resources.sessions, providers, mediator, settings, resources.bus)
        consumer = await resources.bus.consume(SEND_SPEC, sender.on_nudge, settings.amqp_prefetch)
        loop = asyncio.create_task(sender.run_forever())
        tasks: list[asyncio.Task[None]] = []  # other time-based work of the sender
        if bot is not None and settings.telegram_polling:
            from services.sender.telegram_link import TelegramLinker  # aiogram only when used

            tasks.append(asyncio.create_task(TelegramLinker(bot, resources.sessions).run()))
        tasks.extend(start_digests(resources.sessions, resources.bus, mediator))
        tasks.extend(start_visibility(resources.sessions, resources.bus, mediator, settings))
        try:
            yield
        finally:
            await consumer.cancel()
            sender.stop()
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(loop, STOP_GRACE_S)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for provider in providers.values():
                await provider.close()
            await mediator.close()
            await resources.close()

    # /healthz, /readyz and /metrics only: Starlette (libs/common/web/ops_app.py)
    app = ops_app(lifespan, lambda: app.state.resources.checks(), settings)
    return app
