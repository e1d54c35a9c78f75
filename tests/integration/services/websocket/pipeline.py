"""The services in front of the gateway, in-process with their real wiring: ingest, then
``copies`` processors and senders on one database and vhost, and an allow-all mediator."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

from services.ingest.app import create_app as ingest_app
from services.processor.app import create_app as processor_app
from services.processor.settings import ProcessorSettings
from services.sender.app import create_app as sender_app
from services.sender.settings import SenderSettings
from tests.apps import ingest_settings, running
from tests.integration.services.sender.support import MEDIATOR_KEY, mediator_server


async def start_pipeline(
    stack: AsyncExitStack,
    database_url: str,
    amqp_url: str,
    copies: int = 1,
    outbox: Path | None = None,
) -> None:
    mediator_url = await stack.enter_async_context(mediator_server())
    await stack.enter_async_context(running(ingest_app(ingest_settings(database_url, amqp_url))))
    for _ in range(copies):
        processor = ProcessorSettings(
            database_url=database_url, amqp_url=amqp_url, outbox_dir=outbox
        )
        await stack.enter_async_context(running(processor_app(processor)))
        sender = SenderSettings(
            database_url=database_url,
            amqp_url=amqp_url,
            mediator_url=mediator_url,
            mediator_api_key=MEDIATOR_KEY,
            outbox_dir=outbox,
            sender_sweep_interval_s=0.2,
        )
        await stack.enter_async_context(running(sender_app(sender)))
