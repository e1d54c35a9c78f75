"""Compiling every subscription when the processor starts, off the events' path.

A subscription is compiled the first time an event needs it; with 100,000 stored, a fresh
processor spent most of its first minutes compiling (the matching benchmark measured ~16 first
sightings per event, ~17 µs each with the JSON decode). The preload walks the table in id
order, a page per short read, and fills the cache the events then hit. Events are processed
meanwhile (a miss compiles as before); a failure only logs: the cache fills on demand.
"""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import Subscription
from services.processor.matching import CACHE_SIZE, SUBSCRIPTION_COLUMNS, remember

log = logging.getLogger("herald.processor.preload")
PAGE = 5_000  # subscriptions per read: ~5 MB of rows, ~0.1 s of compiling


async def preload(sessions: async_sessionmaker[AsyncSession], limit: int = CACHE_SIZE) -> int:
    """Compile up to ``limit`` enabled subscriptions into the cache; how many were."""
    started, last, done = time.perf_counter(), 0, 0
    s = Subscription
    while done < limit:
        async with sessions() as session:
            query = select(*SUBSCRIPTION_COLUMNS).where(s.enabled.is_(True), s.id > last)
            query = query.order_by(s.id)
            rows = (await session.execute(query.limit(min(PAGE, limit - done)))).all()
        if not rows:
            break
        for row in rows:
            remember(*row)
        last, done = rows[-1][0], done + len(rows)
        await asyncio.sleep(0)  # let the events' batches run between pages
    log.info("compiled %d subscriptions in %.1f s", done, time.perf_counter() - started)
    return done


async def preload_quietly(sessions: async_sessionmaker[AsyncSession]) -> None:
    try:
        await preload(sessions)
    except Exception:  # best effort: subscriptions are compiled on demand anyway
        log.exception("preloading subscriptions failed; they are compiled on demand")
