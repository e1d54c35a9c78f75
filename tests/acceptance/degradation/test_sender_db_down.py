"""PostgreSQL goes away under the sender while mails are on the wire (a TCP proxy in front of it
is cut), then returns within the lease: the sender stays alive and not ready, the outcomes
it could not write are kept and written once the database is back, and no mail goes twice."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import Delivery
from services.sender.app import create_app
from tests.acceptance.degradation.support import allow_all_mediator, statuses
from tests.apps import eventually, running
from tests.integration.services.sender.support import SmtpSink, seed, sender_settings
from tests.integration.services.websocket.harness import http_server
from tests.unit.services.ingest.intake_support import proxy_to

USERS = ["u-1", "u-2", "u-3", "u-4"]
SMTP_DELAY_S = 2.0  # each mail takes this long: long enough to cut the database meanwhile


@pytest.fixture
async def slow_sink() -> AsyncIterator[SmtpSink]:
    server = await SmtpSink(delay_s=SMTP_DELAY_S).start()
    yield server
    await server.stop()


def _status(sessions: async_sessionmaker[AsyncSession], want: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await statuses(sessions) == {want: len(USERS)}

    return check


def _unrecorded() -> float:
    return REGISTRY.get_sample_value("herald_sender_unrecorded_total") or 0.0


async def test_outcomes_wait_for_the_database_and_nothing_is_sent_twice(
    database_url: str, sessions: async_sessionmaker[AsyncSession], slow_sink: SmtpSink
) -> None:
    await seed(sessions, USERS)
    unrecorded = _unrecorded()
    async with AsyncExitStack() as stack:
        proxy = await stack.enter_async_context(proxy_to(database_url))
        mediator_url = await stack.enter_async_context(http_server(allow_all_mediator()))
        settings = sender_settings(
            proxy.url_for(database_url),
            mediator_url=mediator_url,
            smtp_host="127.0.0.1",
            smtp_port=slow_sink.port,
        )
        http = await stack.enter_async_context(running(create_app(settings)))
        await eventually(_status(sessions, "SENDING"), timeout_s=30)  # claimed and committed
        await proxy.cut()  # while the mails are on the wire

        async def accepted() -> bool:
            return len(slow_sink.mails) == len(USERS)

        await eventually(accepted, timeout_s=30)
        assert (await http.get("/readyz")).status_code == 503
        assert (await http.get("/healthz")).status_code == 200
        assert await statuses(sessions) == {"SENDING": len(USERS)}  # not written yet

        await proxy.restore()
        await eventually(_status(sessions, "SENT"), timeout_s=30)
        assert (await http.get("/readyz")).status_code == 200
    async with sessions() as session:
        attempts = list(await session.scalars(select(Delivery.attempts)))
    assert attempts == [1] * len(USERS)  # recorded, never re-claimed
    assert len(slow_sink.mails) == len(USERS) and _unrecorded() == unrecorded
