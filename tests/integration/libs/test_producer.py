"""The producer client: confirmed and mandatory over AMQP, batched over HTTP, validated first."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from herald.emit import sample_event
from libs.common.bus.amqp import AmqpBus
from libs.common.clients.producer import HTTP_BATCH, EventProducer
from libs.common.runtime.errors import PermanentError, ValidationFailed
from services.ingest.app import create_app
from tests.apps import API_KEY, ingest_settings, running
from tests.unit.services.ingest.intake_support import (
    count_events,
    declare_ingest_queue,
    make_event,
    queue_depth,
)


async def test_amqp_emit_is_confirmed_into_the_queue(amqp_url: str) -> None:
    await declare_ingest_queue(amqp_url)
    async with EventProducer.amqp(amqp_url) as producer:
        assert await producer.emit(sample_event()) is None
        await producer.emit_many([make_event(i) for i in range(20)])
    assert await queue_depth(amqp_url, "herald.ingest") == 21


async def test_amqp_unroutable_event_raises_instead_of_vanishing(amqp_url: str) -> None:
    herald = AmqpBus(amqp_url)  # Herald declares its exchanges; no queue is bound yet
    await herald.connect()
    await herald.close()
    async with EventProducer.amqp(amqp_url) as producer:
        with pytest.raises(PermanentError, match="unroutable"):
            await producer.emit(sample_event())


async def test_amqp_producer_on_a_broker_without_herald_says_so(amqp_url: str) -> None:
    """A producer's broker user may not declare exchanges (DESIGN §3.1): it finds them."""
    with pytest.raises(PermanentError, match=r"herald\.events does not exist"):
        async with EventProducer.amqp(amqp_url):
            pass


async def test_invalid_event_is_refused_before_sending(amqp_url: str) -> None:
    await declare_ingest_queue(amqp_url)
    async with EventProducer.amqp(amqp_url) as producer:
        with pytest.raises(ValidationFailed, match="priority"):
            await producer.emit_many([make_event(1), make_event(2, priority="urgent")])
    assert await queue_depth(amqp_url, "herald.ingest") == 0  # all or nothing


async def test_http_emit_many_posts_batches_and_returns_ids(
    database_url: str, amqp_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    app = create_app(ingest_settings(database_url, amqp_url), consume=False)
    events = [make_event(i) for i in range(HTTP_BATCH + 3)]
    async with running(app):
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://herald.test",
            headers={"X-API-Key": API_KEY},
        )
        async with EventProducer(http=client) as producer:
            ids = await producer.emit_many(events)
            again = await producer.emit(events[0])
        refused = EventProducer(
            http=httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://herald.test"
            )
        )
        async with refused:
            with pytest.raises(PermanentError, match="401"):
                await refused.emit(make_event(9))
    assert len(set(ids)) == len(events) and again == ids[0]
    assert await count_events(sessions) == len(events)
