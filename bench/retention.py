"""bench/retention: the retention sweeper on a large database, while the processor works.

A throwaway PostgreSQL database gets, with SQL, ``HERALD_BENCH_RETENTION_EVENTS`` (default
200,000) events of tenant ``acme`` 60 days old — each with a notification, two deliveries and
an attempt per delivery: 6 rows per event, 1.2 million expired rows — and a tenth as many
10 days old that must stay. ``acme`` keeps 30 days of everything. Then, in the same run:

* baseline — the processor processes ``PIPELINE_EVENTS`` new events (3 recipients each) in
  batches of 50, alone;
* under sweep — the same again while the sweeper deletes the expired rows (batch 1,000);

and the figures: rows deleted per table, the sweep's duration and batches, the processor's
events/s and worst batch in both runs, and a check that exactly the expired rows went.

    .venv/bin/python -m bench.retention
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from typing import Any

import asyncpg

from bench._throwaway import raw_dsn, throwaway
from libs.common.catalog.defaults import seed_defaults
from libs.common.db.engine import make_engine, make_sessionmaker, transaction
from libs.common.db.migrate import upgrade_async
from libs.common.db.models import Recipient, Tenant
from libs.common.tenancy.tenant_store import ensure_tenants
from services.processor.retention import RetentionSettings, Sweeper
from tests.integration.services.processor.support import event, processor, store

OLD_EVENTS = int(os.environ.get("HERALD_BENCH_RETENTION_EVENTS", "200000"))
PIPELINE_EVENTS = 3_000
PIPELINE_BATCH = 50
USERS = 100

FILL = """
INSERT INTO events (id, tenant, source, source_event_id, type, entity_type, entity_id,
                    priority, body, status, attempts, received_at)
SELECT $1 || i, 'acme', 'tenders', $1 || i, 'tender.updated', 'tender', 'T-' || i, 'normal',
       '{}'::jsonb, 'processed', 0, now() - make_interval(days => $2)
FROM generate_series(1, $3) AS i;
INSERT INTO notifications (tenant, event_id, user_id, reason, source, type, entity_type,
                           entity_id, priority, title, body, created_at, access)
SELECT 'acme', $1 || i, 'u-' || (i % 100), 'direct:assignee', 'tenders', 'tender.updated',
       'tender', 'T-' || i, 'normal', 'title', 'body', now() - make_interval(days => $2),
       'allowed'
FROM generate_series(1, $3) AS i;
"""
DELIVERIES = """
INSERT INTO deliveries (notification_id, tenant, user_id, source, channel, status, reason,
                        subject, body, attempts, created_at, sent_at)
SELECT n.id, 'acme', n.user_id, 'tenders', c.channel, 'SENT', '', 's', 'b', 1, n.created_at,
       n.created_at
FROM notifications n CROSS JOIN (VALUES ('email'), ('browser')) AS c(channel)
WHERE n.event_id LIKE $1 || '%';
INSERT INTO delivery_attempts (delivery_id, attempt, outcome, at)
SELECT d.id, 1, 'sent', d.created_at FROM deliveries d JOIN notifications n
  ON n.id = d.notification_id WHERE n.event_id LIKE $1 || '%';
"""
COUNTS = """SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM notifications),
                   (SELECT count(*) FROM deliveries), (SELECT count(*) FROM delivery_attempts)"""


async def fill(url: str) -> None:
    conn = await asyncpg.connect(raw_dsn(url))
    try:
        for prefix, days, count in (("old-", 60, OLD_EVENTS), ("young-", 10, OLD_EVENTS // 10)):
            for statement in FILL.strip().split(";\n"):
                await conn.execute(statement, prefix, days, count)
            for statement in DELIVERIES.strip().split(";\n"):
                await conn.execute(statement, prefix)
        await conn.execute("ANALYZE")
        print(
            "rows (events, notifications, deliveries, attempts):",
            tuple(await conn.fetchrow(COUNTS)),
        )
    finally:
        await conn.close()


async def pipeline(sessions: Any, url: str) -> tuple[float, float]:
    """events/s and the worst batch (s) of the processor on ``PIPELINE_EVENTS`` new events."""
    ids = []
    for n in range(PIPELINE_EVENTS):
        people = [f"u-{(n + k) % USERS}" for k in range(3)]
        body = event(tenant="acme", id=uuid.uuid4().hex, recipients={"assignee": people},
                     actor={"id": "u-boss"})  # fmt: skip
        ids.append(await store(sessions, body))
    worker = await processor(sessions, url)
    worst, started = 0.0, time.perf_counter()
    for start in range(0, len(ids), PIPELINE_BATCH):
        t0 = time.perf_counter()
        assert await worker.process_ids(ids[start : start + PIPELINE_BATCH]) == PIPELINE_BATCH
        worst = max(worst, time.perf_counter() - t0)
    return len(ids) / (time.perf_counter() - started), worst


async def main() -> None:
    async with throwaway("retention") as (url, _amqp):
        await upgrade_async(url)
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        retention = {"events_days": 30, "notifications_days": 30, "deliveries_days": 30,
                     "attempts_days": 30}  # fmt: skip
        async with transaction(sessions) as s:
            await seed_defaults(s)
            await ensure_tenants(s, ["acme"])
            (await s.get(Tenant, "acme")).settings = {"retention": retention}  # type: ignore[union-attr]
            s.add_all([Recipient(tenant="acme", user_id=f"u-{n}", email=f"u{n}@x.test")
                       for n in range(USERS)])  # fmt: skip
        started = time.perf_counter()
        await fill(url)
        print(f"filled in {time.perf_counter() - started:.1f} s")
        alone = await pipeline(sessions, url)
        sweeper = Sweeper(sessions, RetentionSettings(retention_batch=1000))
        t0 = time.perf_counter()
        (deleted, sweep_s), during = await asyncio.gather(_timed(sweeper.sweep(), t0),
                                                          pipeline(sessions, url))  # fmt: skip
        conn = await asyncpg.connect(raw_dsn(url))
        left = tuple(await conn.fetchrow(COUNTS))
        old_left = await conn.fetchval("SELECT count(*) FROM events WHERE id LIKE 'old-%'")
        await conn.close()
        await engine.dispose()
    total = sum(deleted.values())
    print(f"deleted {deleted} ({total:,} rows, cascades not counted) in {sweep_s:.1f} s")
    print(f"left (events, notifications, deliveries, attempts): {left}")
    print(f"expired events left: {old_left}")
    print(f"processor alone:       {alone[0]:7.0f} events/s, worst batch {alone[1] * 1000:.0f} ms")
    print(
        f"processor under sweep: {during[0]:7.0f} events/s, worst batch {during[1] * 1000:.0f} ms"
    )


async def _timed(work: Any, t0: float) -> tuple[Any, float]:
    result = await work
    return result, time.perf_counter() - t0


if __name__ == "__main__":
    asyncio.run(main())
