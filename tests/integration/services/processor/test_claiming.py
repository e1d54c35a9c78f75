"""Idempotence and atomicity (DESIGN §5): concurrent processors, injected failures,
the attempt limit and ``herald reprocess``."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from libs.common.bus import make_bus
from libs.common.bus.topology import PROCESS_KEY, WORK_EXCHANGE
from libs.common.catalog.defaults import seed_defaults
from libs.common.db.engine import make_engine, make_sessionmaker, transaction
from libs.common.db.migrate import upgrade_async
from libs.common.db.models import Delivery, Notification, Subscription
from libs.common.events.reprocess import CannotReprocess, reprocess
from services.processor.app import PROCESS_SPEC
from tests.apps import eventually
from tests.integration.services.processor.support import (
    add,
    event,
    event_row,
    person,
    processor,
    rows,
    store,
)

PROCESSORS = 10
NUDGES = 20

BOOM = (
    "CREATE FUNCTION boom() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql",
    # a real database error in the middle of the writes: notifications are already inserted
    "CREATE TRIGGER boom BEFORE INSERT ON deliveries FOR EACH ROW "
    "WHEN (NEW.user_id = 'u-3') EXECUTE FUNCTION boom()",
)


async def _inject(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for statement in BOOM:
            await conn.execute(text(statement))


async def _people(sessions: async_sessionmaker[AsyncSession]) -> None:
    await add(sessions, person("u-17"), person("u-3"), person("u-5"), person("u-90"))
    await add(
        sessions,
        Subscription(tenant="default", user_id="u-90", name="basement", source="tenders",
                     entity_type="tender", filter=[{"field": "section", "op": "eq",
                                                    "value": "basement"}], channels=["email"]),
    )  # fmt: skip


def _body() -> dict[str, object]:
    return event(recipients={"assignee": ["u-17"], "owner": ["u-3"], "watcher": ["u-5"]})


async def _count(sessions: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_ten_processors_nudges_and_sweeps_make_one_set_of_rows(
    sessions: async_sessionmaker[AsyncSession], database_url: str, amqp_url: str
) -> None:
    await _people(sessions)
    once = await store(sessions, _body())
    solo = await processor(sessions, database_url, amqp_url=amqp_url)
    assert await solo.process_ids([once]) == 1
    expected = await rows(sessions, once)
    assert len(expected) == 7  # 4 people; u-90 by subscription, e-mail only

    contested = await store(sessions, _body())
    workers = [
        await processor(sessions, database_url, bus=make_bus(amqp_url), amqp_url=amqp_url)
        for _ in range(PROCESSORS)
    ]
    for w in workers:
        w.start(2)
    consumers = [await w._bus.consume(PROCESS_SPEC, w.on_nudge, 50) for w in workers]
    nudge = json.dumps({"event_id": contested}).encode()
    publisher = workers[0]._bus
    results = await asyncio.gather(
        *(publisher.publish(WORK_EXCHANGE, PROCESS_KEY, nudge) for _ in range(NUDGES)),
        *(w.process_ids([contested]) for w in workers),
        *(w.sweep_once() for w in workers),
    )
    assert sum(r for r in results if isinstance(r, int)) <= 1

    async def processed() -> bool:
        return (await event_row(sessions, contested)).status == "processed"

    await eventually(processed)
    for c in consumers:
        await c.cancel()
    assert [await w.sweep_once() for w in workers] == [0] * PROCESSORS
    for w in workers:
        await w.stop()
        await w._bus.close()
    await solo._bus.close()
    assert await rows(sessions, contested) == expected
    assert await _count(sessions, Notification) == 8
    assert await _count(sessions, Delivery) == 14


async def test_injected_failure_halfway_leaves_nothing_and_retries_fully(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await _people(sessions)
    await _inject(engine)
    poisoned = await store(sessions, _body())
    healthy = await store(sessions, event(recipients={"assignee": ["u-17"]}))
    worker = await processor(sessions, database_url)
    # one batch: notifications are inserted, then a delivery insert fails
    assert await worker.process_ids([poisoned, healthy]) == 1
    assert await rows(sessions, poisoned) == []
    async with sessions() as session:
        left = await session.scalar(select(func.count()).where(Notification.event_id == poisoned))
    assert left == 0
    row = await event_row(sessions, poisoned)
    assert (row.status, row.attempts) == ("received", 1)
    assert "injected failure" in (row.error or "")
    assert (await event_row(sessions, healthy)).status == "processed"

    async with engine.begin() as conn:
        await conn.execute(text("DROP TRIGGER boom ON deliveries"))
    assert await worker.sweep_once() == 1  # still claimable; now processed in full
    assert len(await rows(sessions, poisoned)) == 7
    row = await event_row(sessions, poisoned)
    assert (row.status, row.error) == ("processed", None)


async def test_attempt_limit_then_reprocess(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await _people(sessions)
    await _inject(engine)
    event_id = await store(sessions, _body())
    worker = await processor(sessions, database_url, processor_max_attempts=2)
    assert await worker.sweep_once() == 0
    assert await worker.sweep_once() == 0
    row = await event_row(sessions, event_id)
    assert (row.status, row.attempts) == ("failed", 2)
    assert await worker.sweep_once() == 0  # failed events are left alone

    async with engine.begin() as conn:
        await conn.execute(text("DROP TRIGGER boom ON deliveries"))
    bus = make_bus(f"memory://{uuid.uuid4().hex}")
    said = await reprocess(sessions, bus, event_id)
    assert "reset from failed" in said
    row = await event_row(sessions, event_id)
    assert (row.status, row.attempts, row.error) == ("received", 0, None)
    assert await worker.process_ids([event_id]) == 1
    assert len(await rows(sessions, event_id)) == 7
    with pytest.raises(CannotReprocess, match="already processed"):
        await reprocess(sessions, bus, event_id)
    with pytest.raises(CannotReprocess, match="no event"):
        await reprocess(sessions, bus, "nope")


async def test_sqlite_single_process_concurrency(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'herald.db'}"
    await upgrade_async(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    async with transaction(sessions) as session:
        await seed_defaults(session)
    await _people(sessions)
    event_id = await store(sessions, _body())
    workers = [await processor(sessions, url) for _ in range(3)]
    done = await asyncio.gather(
        *(w.process_ids([event_id]) for w in workers), *(w.sweep_once() for w in workers)
    )
    assert sum(done) == 1
    assert len(await rows(sessions, event_id)) == 7
    assert (await event_row(sessions, event_id)).attempts == 0  # nobody failed on the lock
    await engine.dispose()
