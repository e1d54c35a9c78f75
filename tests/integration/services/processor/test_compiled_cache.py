"""The compiled-subscription cache and the start-up preload (matching at scale, issue 19)."""

from __future__ import annotations

import gc
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from libs.common.db.models import Subscription
from services.processor import matching
from services.processor.matching import CompiledCache, _candidate
from services.processor.preload import preload
from tests.integration.services.processor.support import add

T0 = datetime(2026, 11, 26, tzinfo=UTC)


def cand(sub_id: int, version: datetime = T0, loaded_at: float = 0.0) -> Any:
    found = _candidate(
        sub_id, "u-1", [{"field": "a", "op": "eq", "value": 1}], [], [], None, version
    )
    assert found is not None
    return matching.Candidate(**{**{s: getattr(found, s) for s in found.__slots__},
                                 "loaded_at": loaded_at})  # fmt: skip


def test_a_cached_subscription_is_reused_until_its_row_changes_or_it_ages() -> None:
    cache = CompiledCache(size=100, ttl_s=300)
    cache.put(1, T0, cand(1))
    assert cache.get(1, T0, now=10).id == 1  # type: ignore[union-attr]
    assert cache.get(1, T0 + timedelta(seconds=1), now=10) is False  # edited: recompile
    assert cache.get(1, T0, now=301) is False  # an edit behind the ORM's back is seen by then
    cache.put(2, T0, None)  # a broken filter is remembered as such, for that version
    assert cache.get(2, T0, now=10) is None
    assert cache.get(2, T0 + timedelta(seconds=1), now=10) is False


def test_past_its_size_the_oldest_tenth_goes() -> None:
    cache = CompiledCache(size=100, ttl_s=300)
    for i in range(101):
        cache.put(i, T0, cand(i))
    assert [cache.get(i, T0, now=1) is False for i in (0, 9, 10, 100)] == [True, True, False, False]


def test_compiled_filters_are_not_tracked_by_the_collector() -> None:
    """Conditions are atomic tuples: 100,000 cached subscriptions are two tracked objects
    each, not the tens each that made full collections walk millions (issue 19)."""
    found = cand(1)
    for _ in range(4):  # the collector untracks nested tuples one level per pass
        gc.collect()
    assert not gc.is_tracked(found.filter.tests)
    assert all(not gc.is_tracked(c) for c in found.filter.tests)


async def test_the_preload_compiles_every_enabled_subscription(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    def sub(user_id: str, **over: Any) -> Subscription:
        values: dict[str, Any] = {"tenant": "default", "user_id": user_id, "name": "w",
                                  "source": "tenders", "entity_type": "tender", "channels": [],
                                  "filter": [{"field": "a", "op": "eq", "value": 1}]}  # fmt: skip
        return Subscription(**{**values, **over})

    await add(sessions, sub("u-1"), sub("u-2"), sub("u-3", enabled=False), sub("u-4"))
    async with engine.begin() as conn:  # a row broken behind the API's back
        await conn.execute(text("UPDATE subscriptions SET filter = '5' WHERE user_id = 'u-4'"))
    assert await preload(sessions) == 3
    async with sessions() as session:
        rows = (
            await session.execute(text("SELECT id, user_id, updated_at FROM subscriptions"))
        ).all()
    state = {user: matching._cache.get(i, at, now=time.monotonic()) for i, user, at in rows}
    assert state["u-1"] and state["u-2"]  # compiled
    assert state["u-4"] is None  # known broken
    assert state["u-3"] is False  # disabled: not loaded
