"""One event's fan-out is written in chunks: the processor's memory does not grow with the
number of recipients beyond a few MiB per thousand (issue 14, DESIGN §13)."""

from __future__ import annotations

import tracemalloc

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import Delivery, Notification
from tests.integration.services.processor.support import add, event, person, processor, store

SMALL, LARGE = 500, 5_000
# The promise is "a few MiB per thousand recipients". Measured: 7.6 MiB per thousand when the
# whole fan-out was rendered before one INSERT, 1.2 with chunked writes (what is left is the
# envelope, the directory entries and the claims: a few hundred bytes per recipient).
MAX_GROWTH_PER_THOUSAND_MIB = 2.0
MIB = 1024 * 1024


async def _peak_for(
    sessions: async_sessionmaker[AsyncSession], database_url: str, users: int
) -> int:
    ids = [f"fan-{users}-{i}" for i in range(users)]
    body = event(recipients={"watcher": ids}, payload={"title": "Fire-safety " * 40})
    event_id = await store(sessions, body)
    worker = await processor(sessions, database_url)
    tracemalloc.start()
    try:
        assert await worker.process_ids([event_id]) == 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    async with sessions() as session:
        made = await session.scalar(
            select(func.count()).select_from(Notification).where(Notification.event_id == event_id)
        )
        deliveries = await session.scalar(
            select(func.count())
            .select_from(Delivery)
            .join(Notification, Notification.id == Delivery.notification_id)
            .where(Notification.event_id == event_id)
        )
    assert made == users
    assert deliveries == users * 2  # e-mail and browser by default
    return peak


async def test_memory_does_not_grow_with_one_events_fan_out(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await add(sessions, *(person(f"fan-{n}-{i}") for n in (SMALL, LARGE) for i in range(n)))
    small = await _peak_for(sessions, database_url, SMALL)
    large = await _peak_for(sessions, database_url, LARGE)
    growth_per_thousand = (large - small) / ((LARGE - SMALL) / 1000)
    assert growth_per_thousand <= MAX_GROWTH_PER_THOUSAND_MIB * MIB, (
        f"peak {small / MIB:.1f} MiB for {SMALL} recipients, {large / MIB:.1f} MiB for {LARGE}"
    )
