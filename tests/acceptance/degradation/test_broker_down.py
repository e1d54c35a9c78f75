"""RabbitMQ unavailable to the whole pipeline (every connection of the vhost closed, reconnects
refused), then back: each service says it is not ready, the database-driven paths keep
events flowing meanwhile (HTTP intake, the processor's sweep, the sender's due-row loop), and
once the broker returns every consumer and publisher works again and everything is sent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.clients.producer import EventProducer
from services.ingest.app import create_app as ingest_app
from services.processor.app import create_app as processor_app
from services.sender.app import create_app as sender_app
from tests.acceptance.degradation.support import allow_all_mediator, broker_down, statuses
from tests.apps import API_KEY, eventually, ingest_settings, running
from tests.integration.services.processor.support import add, event, person
from tests.integration.services.processor.support import settings as processor_settings
from tests.integration.services.sender.support import sender_settings
from tests.integration.services.websocket.harness import http_server

EVENTS = 5
PER_EVENT = 2 * 2  # two recipients × (e-mail, browser)
CATCH_UP_S = 60  # browser deliveries deferred by the breaker come back at its next probe


def _status_is(clients: list[httpx.AsyncClient], code: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        codes = [(await c.get("/readyz")).status_code for c in clients]
        return codes == [code] * len(clients)

    return check


def _browser_deferrals() -> float:
    """Browser deliveries put back without an attempt: the broker is the provider, and down."""
    name = "herald_sender_breaker_deferred_total"
    return REGISTRY.get_sample_value(name, {"channel": "browser"}) or 0.0


def _counts_reach(
    sessions: async_sessionmaker[AsyncSession], want: dict[str, int]
) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        have = await statuses(sessions)
        return all(have.get(status, 0) >= n for status, n in want.items())

    return check


async def test_pipeline_rides_out_a_broker_outage(
    database_url: str, amqp_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await add(sessions, person("u-17"), person("u-3"))
    async with AsyncExitStack() as stack:
        mediator_url = await stack.enter_async_context(http_server(allow_all_mediator()))
        ingest = await stack.enter_async_context(
            running(ingest_app(ingest_settings(database_url, amqp_url)))
        )
        processor = await stack.enter_async_context(
            running(processor_app(processor_settings(database_url, amqp_url)))
        )
        sender_cfg = sender_settings(
            database_url, amqp_url=amqp_url, mediator_url=mediator_url, outbox_dir=tmp_path
        )
        sender = await stack.enter_async_context(running(sender_app(sender_cfg)))
        services = [ingest, processor, sender]
        async with EventProducer.amqp(amqp_url) as producer:
            for _ in range(EVENTS):
                await producer.emit(event())
        await eventually(_counts_reach(sessions, {"SENT": EVENTS * PER_EVENT}), timeout_s=30)

        deferrals = _browser_deferrals()
        async with broker_down(amqp_url):
            await eventually(_status_is(services, 503), timeout_s=30)
            for _ in range(EVENTS):  # HTTP intake needs only the database
                posted = await ingest.post(
                    "/v1/events", json=event(), headers={"X-API-Key": API_KEY}
                )
                assert posted.status_code == 202
            # the sweep processes them and e-mail goes out; the browser channel must wait
            email_sent = {"SENT": EVENTS * PER_EVENT + EVENTS * 2}
            await eventually(_counts_reach(sessions, email_sent), timeout_s=30)

            async def browser_waits() -> bool:
                return _browser_deferrals() > deferrals and (await statuses(sessions)).get(
                    "PENDING", 0
                ) == EVENTS * 2

            await eventually(browser_waits, timeout_s=30)
            assert (await statuses(sessions))["SENT"] == email_sent["SENT"]  # none by browser
            assert [(await c.get("/healthz")).status_code for c in services] == [200] * 3

        await eventually(_status_is(services, 200), timeout_s=30)
        async with EventProducer.amqp(amqp_url) as producer:  # the AMQP path works again
            for _ in range(EVENTS):
                await producer.emit(event())
        everything = {"SENT": EVENTS * 3 * PER_EVENT}
        await eventually(_counts_reach(sessions, everything), timeout_s=CATCH_UP_S)
    assert await statuses(sessions) == {"SENT": EVENTS * 3 * PER_EVENT}
