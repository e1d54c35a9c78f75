"""The database becomes unreachable mid-stream (a TCP proxy in front of PostgreSQL is cut):
nothing is acked or dropped, ingest stays up, and everything is stored once it returns."""

from __future__ import annotations

import json

from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest.app import create_app
from tests.apps import eventually, ingest_settings, running
from tests.unit.services.ingest.intake_support import (
    count_events,
    declare_ingest_queue,
    distinct_keys,
    make_event,
    proxy_to,
    publish_raw,
    queue_depth,
)

BEFORE, DURING = 200, 500


def _bodies(start: int, n: int) -> list[bytes]:
    return [json.dumps(make_event(i)).encode() for i in range(start, start + n)]


def _retries() -> float:
    return REGISTRY.get_sample_value("herald_ingest_store_retries_total") or 0.0


async def test_database_outage_loses_nothing(
    database_url: str, amqp_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await declare_ingest_queue(amqp_url)
    async with proxy_to(database_url) as proxy:
        settings = ingest_settings(proxy.url_for(database_url), amqp_url)
        async with running(create_app(settings)) as http:
            await publish_raw(amqp_url, _bodies(0, BEFORE))
            await eventually(lambda: _rows_at_least(sessions, BEFORE), timeout_s=30)

            await proxy.cut()
            retries = _retries()
            await publish_raw(amqp_url, _bodies(BEFORE, DURING))
            await eventually(lambda: _async(_retries() >= retries + 3), timeout_s=30)
            # still alive, honestly not ready, and nothing stored or acked meanwhile
            assert (await http.get("/healthz")).status_code == 200
            assert (await http.get("/readyz")).status_code == 503
            assert await count_events(sessions) == BEFORE

            await proxy.restore()
            await eventually(lambda: _rows_at_least(sessions, BEFORE + DURING), timeout_s=60)
            assert (await http.get("/readyz")).status_code == 200

    assert await count_events(sessions) == BEFORE + DURING
    assert await distinct_keys(sessions) == BEFORE + DURING
    assert await queue_depth(amqp_url, "herald.ingest") == 0


async def _rows_at_least(sessions: async_sessionmaker[AsyncSession], n: int) -> bool:
    return await count_events(sessions) >= n


async def _async(value: bool) -> bool:
    return value
