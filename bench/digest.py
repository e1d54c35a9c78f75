"""bench/digest: 10,000 users × 20 waiting items → every digest built (DESIGN §12: ≤ 30 s).

A throwaway PostgreSQL database is filled with SQL (events, notifications, DIGEST deliveries;
each user's 20 items are about 8 entities over 3 modules, so collapsing has work to do; one
due daily schedule per user). Measured in the same run on the same rows:

* raw limit — asyncpg alone doing the same reads and writes set-based, per batch of
  ``BATCH`` schedules with the same concurrency: claim (SKIP LOCKED), read the items, insert
  the digests and their deliveries, mark the items, advance the schedules; no grouping,
  no rendering, no permission check;
* Herald — ``DigestScheduler.tick``: the same plus the permission check (one mediator call
  per batch and tenant, repeats asked once, over HTTP to a stand-in mediator in its own
  process that allows everything), grouping and collapsing, and the Jinja2 sandboxed digest
  template (text + HTML for e-mail).

    .venv/bin/python -m bench.digest
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bench._throwaway import serve_forever, server_process
from libs.common.catalog.defaults import seed_defaults
from libs.common.clients.mediator_client import MediatorClient
from libs.common.db.engine import make_engine, make_sessionmaker, transaction
from libs.common.db.migrate import upgrade_async
from services.sender.digests.scheduler import DigestScheduler
from services.sender.digests.settings import DigestSettings

SERVER_URL = os.environ.get(
    "HERALD_BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
USERS = 10_000
ITEMS = 20
BATCH = 200
WORKERS = 2
TARGET_S = 30.0
RUN_AT = datetime(2026, 11, 27, 6, tzinfo=UTC)  # 09:00 in Moscow: every schedule is due

SEED = f"""
INSERT INTO recipients (tenant, user_id, email, locale, timezone, roles, attributes, updated_at)
SELECT 'default', 'u-' || u, 'u' || u || '@example.com', 'en', 'Europe/Moscow', '[]', '{{}}',
       now()
FROM generate_series(1, {USERS}) AS u;
INSERT INTO events (id, tenant, source, source_event_id, type, entity_type, entity_id,
                    status, attempts, received_at)
SELECT 'ev-' || g, 'default', 'mod' || (g % {ITEMS} % 8 % 3), 'ev-' || g, 'item.updated', 'item',
       'E-' || (g % {ITEMS} % 8), 'processed', 0, now()
FROM generate_series(0, {USERS * ITEMS - 1}) AS g;
INSERT INTO notifications (tenant, event_id, user_id, reason, source, type, entity_type,
                           entity_id, project_id, priority, title, body, created_at)
SELECT 'default', 'ev-' || g, 'u-' || (g / {ITEMS} + 1), 'direct:assignee',
       'mod' || (g % {ITEMS} % 8 % 3), 'item.updated', 'item', 'E-' || (g % {ITEMS} % 8), 'P-1',
       'normal', 'Item E-' || (g % {ITEMS} % 8) || ' changed (' || g || ')', '',
       $1::timestamptz - interval '1 hour' + g * interval '1 millisecond'
FROM generate_series(0, {USERS * ITEMS - 1}) AS g;
INSERT INTO deliveries (notification_id, tenant, user_id, source, channel, status, reason,
                        subject, body, attempts, created_at)
SELECT n.id, 'default', n.user_id, n.source, 'email', 'DIGEST', 'direct:assignee',
       n.title, 'body', 0, n.created_at
FROM notifications n;
INSERT INTO digest_schedules (tenant, user_id, channel, days_of_week, time_of_day, timezone,
                              enabled, window_start, next_run_at, updated_at)
SELECT 'default', 'u-' || u, 'email', '[0,1,2,3,4,5,6]', '09:00', 'Europe/Moscow', true,
       $1::timestamptz - interval '1 day', $1::timestamptz, now()
FROM generate_series(1, {USERS}) AS u;
"""

RESET = """
UPDATE deliveries SET status = 'DIGEST', digest_id = NULL WHERE notification_id IS NOT NULL;
DELETE FROM deliveries WHERE notification_id IS NULL;
DELETE FROM digests;
UPDATE digest_schedules SET window_start = $1::timestamptz - interval '1 day',
                            next_run_at = $1::timestamptz;
"""


def _pg(url: str, database: str) -> tuple[str, str]:
    parts = urlsplit(url)
    sa = urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))
    raw = urlunsplit(("postgresql", parts.netloc, f"/{database}", parts.query, ""))
    return sa, raw


async def _sql(dsn: str, script: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for statement in filter(str.strip, script.split(";")):
            await conn.execute(statement, RUN_AT) if "$1" in statement else await conn.execute(
                statement
            )
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


# -- raw limit ---------------------------------------------------------------------------

RAW_BATCH = [
    """SELECT user_id FROM digest_schedules WHERE next_run_at <= $1
       ORDER BY next_run_at LIMIT $2 FOR UPDATE SKIP LOCKED""",
    """SELECT d.id, d.user_id, d.source, n.entity_id, n.title FROM deliveries d
       JOIN notifications n ON n.id = d.notification_id
       WHERE d.tenant = 'default' AND d.user_id = ANY($1) AND d.channel = 'email'
         AND d.status = 'DIGEST'""",
    """INSERT INTO digests (tenant, user_id, channel, window_start, window_end, status,
                            item_count, created_at)
       SELECT 'default', u, 'email', $2::timestamptz - interval '1 day', $2, 'built', c, now()
       FROM unnest($1::text[], $3::int[]) AS v(u, c) RETURNING id, user_id""",
    """INSERT INTO deliveries (tenant, user_id, source, channel, status, reason, subject, body,
                               attempts, next_attempt_at, digest_id, created_at)
       SELECT 'default', u, 'herald', 'email', 'PENDING', 'digest', 'digest', 'body', 0, now(),
              dg, now()
       FROM unnest($1::text[], $2::bigint[]) AS v(u, dg) RETURNING id""",
    """UPDATE digests SET delivery_id = v.dl FROM unnest($1::bigint[], $2::bigint[]) AS v(dg, dl)
       WHERE digests.id = v.dg""",
    """UPDATE deliveries SET status = 'DIGESTED', digest_id = v.dg
       FROM unnest($1::bigint[], $2::bigint[]) AS v(id, dg)
       WHERE deliveries.id = v.id AND deliveries.status = 'DIGEST'""",
    """UPDATE digest_schedules SET window_start = next_run_at,
              next_run_at = next_run_at + interval '1 day'
       WHERE tenant = 'default' AND channel = 'email' AND user_id = ANY($1)""",
]


async def _raw_batch(conn: asyncpg.Connection) -> int:
    claim, items, digests, deliveries, link, mark, advance = RAW_BATCH
    async with conn.transaction():
        users = [r[0] for r in await conn.fetch(claim, RUN_AT, BATCH)]
        if not users:
            return 0
        rows = await conn.fetch(items, users)
        by_user: dict[str, list[int]] = {}
        for r in rows:
            by_user.setdefault(r["user_id"], []).append(r["id"])
        made = await conn.fetch(digests, users, RUN_AT, [len(by_user[u]) for u in users])
        ids = await conn.fetch(deliveries, [m["user_id"] for m in made], [m["id"] for m in made])
        await conn.execute(link, [m["id"] for m in made], [i["id"] for i in ids])
        pairs = [(i, m["id"]) for m in made for i in by_user[m["user_id"]]]
        await conn.execute(mark, [p[0] for p in pairs], [p[1] for p in pairs])
        await conn.execute(advance, users)
    return len(users)


async def raw_limit(dsn: str) -> float:
    conns = [await asyncpg.connect(dsn) for _ in range(WORKERS)]

    async def drain(conn: asyncpg.Connection) -> None:
        while await _raw_batch(conn) == BATCH:
            pass

    started = time.perf_counter()
    try:
        await asyncio.gather(*(drain(c) for c in conns))
    finally:
        for c in conns:
            await c.close()
    return time.perf_counter() - started


# -- Herald ------------------------------------------------------------------------------


def _mediator(port: int, ready: Any) -> None:
    """A stand-in mediator in its own process (the real one is a separate service too):
    answers "may read" to every item, speaking the real wire contract."""
    from aiohttp import web

    async def check(request: web.Request) -> web.Response:
        items = json.loads(await request.read())["items"]
        answer = {"read": True, "write": False, "error": None}
        return web.json_response({"results": [answer] * len(items)})

    app = web.Application(client_max_size=64 * 2**20)
    app.router.add_post("/v1/permissions/check", check)
    serve_forever(app, port, ready)


async def herald(url: str, mediator_port: int) -> tuple[float, int, int]:
    engine = make_engine(url, pool_size=WORKERS + 2)
    settings = DigestSettings(digest_batch=BATCH, digest_workers=WORKERS)
    mediator = MediatorClient(f"http://127.0.0.1:{mediator_port}", "bench-key-0123456789")
    scheduler = DigestScheduler(make_sessionmaker(engine), None, mediator, settings)
    try:
        started = time.perf_counter()
        result = await scheduler.tick(RUN_AT + timedelta(seconds=1))
        elapsed = time.perf_counter() - started
    finally:
        await mediator.close()
        await engine.dispose()
    return elapsed, result.digests, result.items


async def _check(dsn: str) -> tuple[int, int, int]:
    conn = await asyncpg.connect(dsn)
    try:
        digests = await conn.fetchval("SELECT count(*) FROM digests")
        items = await conn.fetchval("SELECT count(*) FROM deliveries WHERE status = 'DIGESTED'")
        waiting = await conn.fetchval("SELECT count(*) FROM deliveries WHERE status = 'DIGEST'")
    finally:
        await conn.close()
    return int(digests), int(items), int(waiting)


async def run(mediator_port: int) -> dict[str, Any]:
    name = f"herald_bench_digest_{uuid.uuid4().hex[:8]}"
    _, admin = _pg(SERVER_URL, "postgres")
    url, dsn = _pg(SERVER_URL, name)
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    try:
        await upgrade_async(url)
        engine = make_engine(url)
        async with transaction(make_sessionmaker(engine)) as session:
            await seed_defaults(session)
        await engine.dispose()
        started = time.perf_counter()
        await _sql(dsn, SEED)
        print(f"generated {USERS:,} users × {ITEMS} items in {time.perf_counter() - started:.1f}s")
        raw_s = await raw_limit(dsn)
        assert await _check(dsn) == (USERS, USERS * ITEMS, 0), "raw baseline incomplete"
        await _sql(dsn, RESET)
        herald_s, digests, items = await herald(url, mediator_port)
        assert await _check(dsn) == (USERS, USERS * ITEMS, 0), "digests incomplete"
        assert (digests, items) == (USERS, USERS * ITEMS)
    finally:
        conn = await asyncpg.connect(admin)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()
    return {
        "users": USERS,
        "items_per_user": ITEMS,
        "herald_s": round(herald_s, 2),
        "digests_per_s": round(USERS / herald_s),
        "raw_limit_s": round(raw_s, 2),
        "ratio_of_raw": round(raw_s / herald_s, 3),
        "target_s": TARGET_S,
        "meets_target": herald_s <= TARGET_S,
    }


def main() -> dict[str, Any]:
    with server_process(_mediator, "the stand-in mediator") as port:
        result = asyncio.run(run(port))
    print(
        f"digests: {result['users']:,} users × {result['items_per_user']} items built in "
        f"{result['herald_s']:.1f}s ({result['digests_per_s']:,}/s; target ≤ {TARGET_S:.0f}s: "
        f"{'met' if result['meets_target'] else 'MISSED'})\n"
        f"raw limit (asyncpg, same reads and writes, no rendering/permissions): "
        f"{result['raw_limit_s']:.1f}s — Herald runs at {result['ratio_of_raw']:.0%} of it"
    )
    return result


if __name__ == "__main__":
    main()
