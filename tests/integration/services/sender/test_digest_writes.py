"""services/sender/digests/writes.py: the digest build's batch writes do the same on PostgreSQL
(set-based) and SQLite (per digest, executemany), and store_digests refuses a batch whose
items changed under it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import transaction
from libs.common.db.models import Delivery, DeliveryStatus, DigestSchedule
from libs.common.templating.templates import Rendered
from services.sender.digests.collect import waiting_items
from services.sender.digests.store import ItemsChanged, Plan, advance, store_digests
from services.sender.digests.writes import Advance, digest_writes
from tests.databases import KINDS, migrated
from tests.integration.services.sender.digest_support import (
    add_schedule,
    add_waiting,
    statuses,
    utc,
)

Sessions = async_sessionmaker[AsyncSession]
START = utc(2026, 11, 26, 6)


@pytest.fixture(params=KINDS)
async def db(
    request: pytest.FixtureRequest, tmp_path: Path, template_database: str
) -> AsyncIterator[Sessions]:
    async with migrated(request.param, tmp_path, template_database) as sessions:
        yield sessions


async def _digested(db: Sessions) -> dict[int, tuple[str, int | None]]:
    async with db() as session:
        rows = await session.execute(select(Delivery.id, Delivery.status, Delivery.digest_id))
    return {i: (s, d) for i, s, d in rows}


async def test_marking_moves_only_the_items_still_waiting(db: Sessions) -> None:
    a, b, c = [await add_waiting(db, "ann", START + timedelta(hours=h)) for h in range(3)]
    async with transaction(db) as session:
        await session.execute(update(Delivery).where(Delivery.id == c).values(status="PENDING"))
    async with transaction(db) as session:
        marked = await digest_writes(session).mark_digested(session, {70: [a], 71: [b, c]})
    assert marked == 2
    found = await _digested(db)
    assert [found[a], found[b], found[c]] == [("DIGESTED", 70), ("DIGESTED", 71), ("PENDING", None)]


async def test_advancing_sets_each_schedules_window(db: Sessions) -> None:
    for user in ("ann", "bob"):
        await add_schedule(db, user, window_start=START)
    then, later = START + timedelta(days=1), START + timedelta(days=2)
    async with transaction(db) as session:
        await advance(
            session,
            [
                Advance(("default", "ann", "email"), then, later, then),
                Advance(("default", "bob", "email"), then, None, then),
            ],
        )
        await advance(session, [])  # nothing to advance: no statement
    async with db() as session:
        rows = await session.execute(
            select(
                DigestSchedule.user_id, DigestSchedule.window_start, DigestSchedule.next_run_at
            ).order_by(DigestSchedule.user_id)
        )
        got = [(u, w.replace(tzinfo=None), n and n.replace(tzinfo=None)) for u, w, n in rows]
    naive = then.replace(tzinfo=None), later.replace(tzinfo=None)
    assert got == [("ann", naive[0], naive[1]), ("bob", naive[0], None)]


async def test_a_batch_whose_item_changed_is_refused(db: Sessions) -> None:
    await add_schedule(db, "ann", window_start=START)
    ids = [await add_waiting(db, "ann", START + timedelta(hours=h)) for h in range(2)]
    async with db() as session:
        schedule = await session.get(DigestSchedule, ("default", "ann", "email"))
        assert schedule is not None
        items = (await waiting_items(session, [("default", "ann", "email")]))[
            ("default", "ann", "email")
        ]
    async with transaction(db) as session:  # someone else sends one meanwhile
        await session.execute(update(Delivery).where(Delivery.id == ids[1]).values(status="SENT"))
    plan = Plan(schedule, START, START + timedelta(days=1), items, Rendered("s", "b", None))
    with pytest.raises(ItemsChanged, match="1 waiting items changed"):
        async with transaction(db) as session:
            await store_digests(session, [plan], START + timedelta(days=1))
    assert await statuses(db, ids) == [DeliveryStatus.DIGEST.value, "SENT"]
