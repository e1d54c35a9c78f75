"""PostgreSQL goes away under the processor (a TCP proxy in front of it is cut) and returns:
the processor stays alive, says it is not ready, spends no attempt on the outage, and its
sweep processes everything that waited once the database is back."""

from __future__ import annotations

import json

from prometheus_client import REGISTRY
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.bus import make_bus
from libs.common.bus.topology import PROCESS_KEY, WORK_EXCHANGE
from libs.common.db.models import Delivery, Event
from services.processor.app import create_app
from tests.apps import eventually, running
from tests.integration.services.processor.support import add, event, person, settings, store
from tests.unit.services.ingest.intake_support import proxy_to

EVENTS = 20


def _transient_failures() -> float:
    value = REGISTRY.get_sample_value("herald_processor_failures_total", {"kind": "transient"})
    return value or 0.0


async def _events(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, int]]:
    async with sessions() as session:
        rows = await session.execute(select(Event.status, Event.attempts))
        return [(status, attempts) for status, attempts in rows.all()]


async def test_processor_waits_out_a_database_outage(
    database_url: str, amqp_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await add(sessions, person("u-17"), person("u-3"))
    bus = make_bus(amqp_url)
    await bus.connect()
    async with proxy_to(database_url) as proxy:
        app = create_app(settings(proxy.url_for(database_url), amqp_url))
        async with running(app) as http:
            assert (await http.get("/readyz")).status_code == 200
            await proxy.cut()
            before = _transient_failures()
            ids = [await store(sessions, event()) for _ in range(EVENTS)]  # ingest kept going
            for event_id in ids:
                await bus.publish(
                    WORK_EXCHANGE, PROCESS_KEY, json.dumps({"event_id": event_id}).encode()
                )

            async def failing() -> bool:
                return _transient_failures() >= before + EVENTS

            await eventually(failing, timeout_s=30)
            assert (await http.get("/healthz")).status_code == 200
            assert (await http.get("/readyz")).status_code == 503
            # an outage is not the event's fault: nothing failed, no attempt spent
            assert await _events(sessions) == [("received", 0)] * EVENTS

            await proxy.restore()

            async def caught_up() -> bool:
                return await _events(sessions) == [("processed", 0)] * EVENTS

            await eventually(caught_up, timeout_s=30)  # the sweep; the nudges were spent
            assert (await http.get("/readyz")).status_code == 200
    await bus.close()
    async with sessions() as session:
        deliveries = await session.scalar(select(func.count()).select_from(Delivery))
    assert deliveries == EVENTS * 2 * 2  # two recipients, e-mail and browser each
