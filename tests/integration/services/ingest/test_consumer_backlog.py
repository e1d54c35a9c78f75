"""Events published while ingest is down wait in the quorum queue and are all stored, once;
the processor is nudged once per stored batch, each event exactly once."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.bus.amqp import AmqpBus
from libs.common.bus.base import QueueSpec
from libs.common.bus.topology import PROCESS_KEY, PROCESS_QUEUE, WORK_EXCHANGE
from libs.common.clients.producer import EventProducer
from services.ingest.app import create_app
from tests.apps import eventually, ingest_settings, running
from tests.unit.services.ingest.intake_support import (
    count_events,
    declare_ingest_queue,
    distinct_keys,
    drain_nudges,
    make_event,
    queue_depth,
)

BACKLOG = 1_000
BATCH_SIZE = 100  # HERALD_INGEST_BATCH_SIZE's default


async def test_backlog_published_while_stopped_is_stored_exactly_once(
    database_url: str, amqp_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await declare_ingest_queue(amqp_url)
    await _declare_process_queue(amqp_url)
    async with EventProducer.amqp(amqp_url) as producer:
        await producer.emit_many([make_event(n) for n in range(BACKLOG)])
    assert await queue_depth(amqp_url, "herald.ingest") == BACKLOG
    assert await count_events(sessions) == 0

    async with running(create_app(ingest_settings(database_url, amqp_url))):

        async def all_stored() -> bool:
            return await count_events(sessions) >= BACKLOG

        await eventually(all_stored, timeout_s=60)
        await eventually(lambda: _drained(amqp_url), timeout_s=30)

    assert await count_events(sessions) == BACKLOG
    assert await distinct_keys(sessions) == BACKLOG
    assert await queue_depth(amqp_url, "herald.ingest") == 0
    nudges = await drain_nudges(amqp_url)
    assert len(nudges) < BACKLOG  # batches, not one message per event
    assert all(1 <= len(ids) <= BATCH_SIZE for ids in nudges)
    nudged = [event_id for ids in nudges for event_id in ids]
    assert len(nudged) == len(set(nudged)) == BACKLOG


async def _declare_process_queue(amqp_url: str) -> None:
    bus = AmqpBus(amqp_url)
    await bus.connect()
    try:
        await bus.declare(QueueSpec(PROCESS_QUEUE, bindings=[(WORK_EXCHANGE, PROCESS_KEY)]))
    finally:
        await bus.close()


async def _drained(amqp_url: str) -> bool:
    return await queue_depth(amqp_url, "herald.ingest") == 0
