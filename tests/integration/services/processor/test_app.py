"""The processor as deployed: ingest and processor apps on real PostgreSQL and RabbitMQ."""

from __future__ import annotations

import asyncio
import json
from contextlib import AsyncExitStack

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.bus import Message, QueueSpec, make_bus
from libs.common.bus.memory import MemoryBus
from libs.common.bus.topology import PROCESS_KEY, SEND_KEY, SEND_QUEUE, WORK_EXCHANGE
from libs.common.clients.producer import EventProducer
from libs.common.db.models import Delivery
from services.ingest.app import create_app as ingest_app
from services.processor.app import PROCESS_SPEC
from services.processor.app import create_app as processor_app
from tests.apps import eventually, ingest_settings, running
from tests.integration.services.processor.support import (
    add,
    event,
    event_row,
    person,
    processor,
    settings,
    store,
)

EVENTS = 30


async def test_events_over_amqp_become_deliveries_and_nudge_the_sender(
    sessions: async_sessionmaker[AsyncSession], database_url: str, amqp_url: str
) -> None:
    await add(sessions, person("u-17"), person("u-3"), person("u-5"))
    nudged: list[int] = []
    bus = make_bus(amqp_url)
    await bus.connect()

    async def sender_nudge(message: Message) -> None:
        nudged.extend(json.loads(message.body)["delivery_ids"])

    send_queue = await bus.consume(
        QueueSpec(SEND_QUEUE, bindings=[(WORK_EXCHANGE, SEND_KEY)]), sender_nudge, 10
    )
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(
            running(ingest_app(ingest_settings(database_url, amqp_url)))
        )
        proc = await stack.enter_async_context(
            running(processor_app(settings(database_url, amqp_url)))
        )
        recipients = {"assignee": ["u-17"], "owner": ["u-3"], "watcher": ["u-5"]}
        async with EventProducer.amqp(amqp_url) as producer:
            await asyncio.gather(
                *(producer.emit(event(recipients=recipients)) for _ in range(EVENTS))
            )

        async def all_nudged() -> bool:
            return len(nudged) == EVENTS * 6

        await eventually(all_nudged, timeout_s=30)
        metrics = (await proc.get("/metrics")).text
        assert (await proc.get("/readyz")).status_code == 200
    await send_queue.cancel()
    await bus.close()
    async with sessions() as session:
        ids = (await session.scalars(select(Delivery.id).where(Delivery.status == "PENDING"))).all()
        total = await session.scalar(select(func.count()).select_from(Delivery))
    assert sorted(ids) == sorted(nudged) and total == EVENTS * 6
    assert 'herald_processor_deliveries_total{status="PENDING"}' in metrics
    assert "herald_processor_latency_seconds_count" in metrics


async def test_batched_nudge_and_malformed_nudge(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    """One nudge may carry a whole ingest batch; garbage is dead-lettered, not retried."""
    await add(sessions, person("u-17"))
    bus = MemoryBus()
    worker = await processor(sessions, database_url, bus=bus)
    worker.start(2)
    consumer = await bus.consume(PROCESS_SPEC, worker.on_nudge, 10)
    ids = [await store(sessions, event(recipients={"assignee": ["u-17"]})) for _ in range(3)]
    await bus.publish(WORK_EXCHANGE, PROCESS_KEY, json.dumps({"event_ids": ids}).encode())
    await bus.publish(WORK_EXCHANGE, PROCESS_KEY, b'{"event_ids": "not a list"}')

    async def settled() -> bool:
        done = [(await event_row(sessions, i)).status for i in ids]
        return done == ["processed"] * 3 and bool(bus.dead.get(PROCESS_SPEC.name))

    await eventually(settled)
    await consumer.cancel()
    await worker.stop()
    assert [m.body for m in bus.dead[PROCESS_SPEC.name]] == [b'{"event_ids": "not a list"}']
