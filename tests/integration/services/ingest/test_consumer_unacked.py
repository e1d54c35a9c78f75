"""A consumer holding messages unacked past the limit is not ready, and says why (issue 14):
before, 200 messages left unsettled stopped intake while ``/readyz`` stayed 200.

Here ingest's batch waits on a table lock (PostgreSQL itself answers, so the database check
stays ok): its messages are held unacked, ``/readyz`` turns 503 naming the queue once they
pass ``HERALD_BUS_UNACKED_LIMIT_S``, the gauge counts them, and all of it clears once the
lock goes and the batch is stored and acked."""

from __future__ import annotations

import json
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.ingest.app import create_app
from services.ingest.intake import consumer as consumer_module
from tests.apps import eventually, ingest_settings, running
from tests.infra import queue_counts
from tests.unit.services.ingest.intake_support import (
    count_events,
    declare_ingest_queue,
    make_event,
    publish_raw,
)

LIMIT_S = 0.5
EVENTS = 3


def _held() -> float:
    return REGISTRY.get_sample_value("herald_bus_unacked_messages", {"queue": "herald.ingest"}) or 0


async def test_readyz_turns_503_while_messages_are_held_past_the_limit(
    database_url: str,
    amqp_url: str,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await declare_ingest_queue(amqp_url)
    settings = ingest_settings(database_url, amqp_url, bus_unacked_limit_s=LIMIT_S)
    async with running(create_app(settings)) as http:
        assert (await http.get("/readyz")).status_code == 200
        async with engine.connect() as blocker:  # the lock lives until this transaction ends
            await blocker.execute(text("LOCK TABLE events IN ACCESS EXCLUSIVE MODE"))
            await publish_raw(amqp_url, [json.dumps(make_event(n)).encode() for n in range(EVENTS)])

            async def not_ready() -> bool:
                return (await http.get("/readyz")).status_code == 503

            await eventually(not_ready, timeout_s=10)
            checks = (await http.get("/readyz")).json()["checks"]
            assert checks["database"] == "ok" and checks["broker"] == "ok"
            assert "herald.ingest: 3 messages held unacked for over 0.5 s" in checks["consumers"]
            assert _held() == EVENTS
            await blocker.rollback()

        async def ready() -> bool:
            return (await http.get("/readyz")).status_code == 200

        await eventually(ready, timeout_s=10)
        assert _held() == 0
        assert await count_events(sessions) == EVENTS

        async def broker_settled() -> bool:
            return (await queue_counts(amqp_url))["herald.ingest"] == (0, 0)

        await eventually(broker_settled, timeout_s=20)


async def test_a_flusher_that_fails_unexpectedly_gives_its_batch_back(
    database_url: str,
    amqp_url: str,
    sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A surprise after the commit and before the acks (here the ack step itself raising,
    once): the flusher survives, as before, and now nacks what it did not settle — before,
    those messages stayed unacked for the channel's lifetime. The redelivery is a counted
    duplicate: one row per event."""
    failures = [RuntimeError("a bug between commit and ack")]
    real_ack = consumer_module._ack

    async def ack_failing_once(batch: list[Any]) -> None:
        if failures:
            raise failures.pop()
        await real_ack(batch)

    monkeypatch.setattr(consumer_module, "_ack", ack_failing_once)
    await declare_ingest_queue(amqp_url)
    await publish_raw(amqp_url, [json.dumps(make_event(n)).encode() for n in range(EVENTS)])
    async with running(create_app(ingest_settings(database_url, amqp_url))):

        async def all_settled() -> bool:
            return (await queue_counts(amqp_url))["herald.ingest"] == (0, 0) and _held() == 0

        await eventually(all_settled, timeout_s=20)
    assert not failures
    assert await count_events(sessions) == EVENTS
