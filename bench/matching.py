"""bench/matching: events/s processed with 100,000 stored subscriptions (DESIGN §12: >= 1,000/s).

A throwaway PostgreSQL database holds 100,000 saved-filter subscriptions of 20,000 people over
5 modules x 4 entity types x 250 projects (about 20 per project, plus 2% project-wide ones,
so every event has ~120 candidates), with filters mixing every operator, and a directory of
those people with roles and companies. EVENTS events are then processed by the real
processor (claim, enrichment, candidate selection, in-memory conditions, channels, rendering,
inserts, commit) in its batches, 4 transactions at a time as `herald run processor` does,
started as `herald run processor` starts it: the collector tuned (services/processor/
collector.py) and every subscription compiled before the first event (preload.py; its time is
printed apart, as "startup").

Raw limit, in the same run: asyncpg alone fetching the events' candidate rows (id, user,
filter, channels, version) through the same index, no evaluation and no writes, 4 connections
at a time, done two ways: one query per event, and one per batch of 50 events as the processor
asks (each event's project, and each (source, entity type)'s project-wide rows once per batch).
The ratio is to the faster of the two. Until issue 19's last changes only the per-event fetch
was measured, though the processor has always read a batch's candidates at once.

    .venv/bin/python -m bench.matching
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import text

from bench._throwaway import raw_dsn, throwaway
from libs.common.catalog.defaults import seed_defaults
from libs.common.db.engine import make_engine, make_sessionmaker, transaction
from libs.common.db.migrate import upgrade_async
from services.processor.batch import Deps
from services.processor.catalog import Catalog
from services.processor.collector import tune_collector
from services.processor.directory import TableDirectory
from services.processor.preload import preload
from services.processor.settings import ProcessorSettings
from services.processor.worker import Processor

SUBSCRIPTIONS = 100_000
PEOPLE = 20_000
SOURCES = ("tenders", "approvals", "design", "construction", "documents")
ENTITY_TYPES = ("tender", "remark", "drawing", "contract")
PROJECTS = 250
PROJECT_WIDE = 0.02
EVENTS = 3_000
WARMUP = 500  # events processed first, unmeasured: a running processor has parsed filters
BATCH = 50
CONCURRENCY = 4
SECTIONS = ("basement", "roof", "facade", "ground", "interior", "mep", "site", "lifts")
ROLES = ("designer", "installer", "engineer", "inspector", "manager")
TARGET_PER_S = 1_000
NOW = datetime(2026, 11, 26, 10, tzinfo=UTC)


def _condition(rng: random.Random) -> dict[str, Any]:
    day = (NOW + timedelta(days=rng.randint(-20, 20))).date().isoformat()
    later = (NOW + timedelta(days=rng.randint(21, 60))).date().isoformat()
    return rng.choice([
        {"field": "section", "op": "eq", "value": rng.choice(SECTIONS)},
        {"field": "section", "op": "in", "value": rng.sample(SECTIONS, 2)},
        {"field": "section", "op": "not_in", "value": rng.sample(SECTIONS, 6)},
        {"field": "amount", "op": "between", "value": sorted(rng.sample(range(0, 10**7), 2))},
        {"field": "amount", "op": "gte", "value": rng.randrange(0, 10**7, 10**5)},
        {"field": "deadline", "op": "within_days", "value": rng.choice([3, 7, 14])},
        {"field": "deadline", "op": "between", "value": [day, later]},
        {"field": "responsible", "op": "roles_any", "value": [rng.choice(ROLES)]},
        {"field": "responsible", "op": "users_any", "value": [f"u-{rng.randrange(PEOPLE)}"]},
        {"field": "contractor", "op": "companies_any", "value": [f"c-{rng.randrange(50)}"]},
        {"field": "priority_flag", "op": "ne", "value": True},
    ])  # fmt: skip


def _subscriptions(rng: random.Random) -> list[tuple[Any, ...]]:
    rows = []
    for i in range(SUBSCRIPTIONS):
        project = None if rng.random() < PROJECT_WIDE else f"P-{rng.randrange(PROJECTS)}"
        conditions = [_condition(rng) for _ in range(rng.randint(2, 3))]
        rows.append((
            "default", f"u-{i % PEOPLE}", f"watch {i}", rng.choice(SOURCES),
            rng.choice(ENTITY_TYPES), project, json.dumps(conditions), json.dumps(["browser"]),
            True, NOW, NOW,
        ))  # fmt: skip
    return rows


def _people(rng: random.Random) -> list[tuple[Any, ...]]:
    return [
        ("default", f"u-{i}", f"u{i}@example.com", "ru", "Europe/Moscow",
         json.dumps([rng.choice(ROLES)]), f"c-{rng.randrange(50)}", json.dumps({}), NOW)
        for i in range(PEOPLE)
    ]  # fmt: skip


def _event(rng: random.Random, i: int) -> dict[str, Any]:
    deadline = (NOW + timedelta(days=rng.randint(-10, 30))).date().isoformat()
    attributes: dict[str, Any] = {
        "section": rng.choice(SECTIONS),
        "amount": rng.randrange(0, 10**7, 10**4),
        "deadline": deadline,
        "responsible": [f"u-{rng.randrange(PEOPLE)}" for _ in range(2)],
        "contractor": f"u-{rng.randrange(PEOPLE)}",
    }
    return {
        "id": f"match-{i}",
        "source": rng.choice(SOURCES),
        "type": "item.changed",
        "tenant": "default",
        "project_id": f"P-{rng.randrange(PROJECTS)}",
        "entity": {"type": rng.choice(ENTITY_TYPES), "id": f"E-{i}", "attributes": attributes},
        "actor": {"id": "u-7"},
        "recipients": {"assignee": [attributes["responsible"][0]]},
        "occurred_at": NOW.isoformat(),
        "payload": {"title": f"Change {i}"},
    }


async def _load(dsn: str, rng: random.Random) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table(
            "subscriptions", records=_subscriptions(rng),
            columns=["tenant", "user_id", "name", "source", "entity_type", "project_id",
                     "filter", "channels", "enabled", "created_at", "updated_at"],
        )  # fmt: skip
        await conn.copy_records_to_table(
            "recipients", records=_people(rng),
            columns=["tenant", "user_id", "email", "locale", "timezone", "roles",
                     "company_id", "attributes", "updated_at"],
        )  # fmt: skip
        await conn.execute("ANALYZE")
        events = [_event(rng, i) for i in range(WARMUP + EVENTS)]
        await conn.executemany(
            "INSERT INTO events (id, tenant, source, source_event_id, type, project_id, "
            "entity_type, entity_id, priority, occurred_at, body, status, attempts, "
            "received_at) VALUES ($1, 'default', $2, $3, $4, $5, $6, $7, 'normal', $8, "
            "$9::jsonb, 'received', 0, now())",
            [(f"ev-{e['id']}", e["source"], e["id"], e["type"], e["project_id"],
              e["entity"]["type"], e["entity"]["id"], NOW, json.dumps(e)) for e in events],
        )  # fmt: skip
        return events
    finally:
        await conn.close()


RAW_SQL = """SELECT id, user_id, filter, channels, updated_at FROM subscriptions
 WHERE enabled AND tenant = $1 AND source = $2 AND entity_type = $3
 AND (project_id IS NULL OR project_id = $4)"""


# The same rows for a whole batch of events at once, as the processor asks (its index probes:
# each event's own project, and each (source, entity_type)'s project-wide subscriptions once).
RAW_BATCH_SQL = """SELECT k.i, s.id, s.user_id, s.filter, s.channels, s.updated_at
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS k(t, s, e, p, i)
JOIN subscriptions s ON s.tenant = k.t AND s.source = k.s AND s.entity_type = k.e
 AND s.project_id = k.p
WHERE s.enabled
UNION ALL
SELECT k.i, s.id, s.user_id, s.filter, s.channels, s.updated_at
FROM unnest($5::text[], $6::text[], $7::text[]) WITH ORDINALITY AS k(t, s, e, i)
JOIN subscriptions s ON s.tenant = k.t AND s.source = k.s AND s.entity_type = k.e
 AND s.project_id IS NULL
WHERE s.enabled"""


async def _raw_batched_rate(dsn: str, events: list[dict[str, Any]]) -> float:
    """asyncpg fetching the candidate rows of BATCH events per query, CONCURRENCY at a time."""
    conns = [await asyncpg.connect(dsn) for _ in range(CONCURRENCY)]
    batches = [events[i : i + BATCH] for i in range(0, len(events), BATCH)]

    async def worker(k: int) -> None:
        for batch in batches[k::CONCURRENCY]:
            keys = [("default", e["source"], e["entity"]["type"], e["project_id"]) for e in batch]
            triples = list(dict.fromkeys(key[:3] for key in keys))
            await conns[k].fetch(
                RAW_BATCH_SQL, *([key[n] for key in keys] for n in range(4)),
                *([t[n] for t in triples] for n in range(3)),
            )  # fmt: skip

    try:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(CONCURRENCY)))
        return len(events) / (time.perf_counter() - t0)
    finally:
        for c in conns:
            await c.close()


async def _raw_rate(dsn: str, events: list[dict[str, Any]]) -> tuple[float, float]:
    conns = [await asyncpg.connect(dsn) for _ in range(CONCURRENCY)]
    fetched = 0

    async def worker(k: int) -> None:
        nonlocal fetched
        for e in events[k::CONCURRENCY]:
            rows = await conns[k].fetch(
                RAW_SQL, "default", e["source"], e["entity"]["type"], e["project_id"]
            )
            fetched += len(rows)

    try:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(CONCURRENCY)))
        return len(events) / (time.perf_counter() - t0), fetched / len(events)
    finally:
        for c in conns:
            await c.close()


async def _herald_rate(
    db_url: str, warmup: list[dict[str, Any]], events: list[dict[str, Any]]
) -> tuple[float, float, int, float, float]:
    settings = ProcessorSettings(database_url=db_url, amqp_url="memory://bench-matching")
    engine = make_engine(db_url)
    from libs.common.bus import make_bus

    bus = make_bus(settings.amqp_url)
    worker = Processor(
        make_sessionmaker(engine), bus, settings,
        Deps(Catalog(settings.processor_default_channels), TableDirectory()),
    )  # fmt: skip

    cpu: list[float] = []  # the processor's CPU seconds per event (it runs in this process)

    async def process(batch: list[dict[str, Any]]) -> float:
        ids = [f"ev-{e['id']}" for e in batch]
        chunks = [ids[i : i + BATCH] for i in range(0, len(ids), BATCH)]

        async def runner(k: int) -> None:
            for chunk in chunks[k::CONCURRENCY]:
                assert await worker.process_ids(chunk) == len(chunk)

        t0, cpu0 = time.perf_counter(), time.process_time()
        await asyncio.gather(*(runner(k) for k in range(CONCURRENCY)))
        cpu.append((time.process_time() - cpu0) / len(ids))
        return len(ids) / (time.perf_counter() - t0)

    try:
        tune_collector()
        started = time.perf_counter()
        compiled = await preload(make_sessionmaker(engine))
        startup = time.perf_counter() - started
        await process(warmup)
        async with engine.connect() as conn:
            before = (await conn.execute(text("SELECT count(*) FROM notifications"))).scalar_one()
        rate = await process(events)
        async with engine.connect() as conn:
            after = (await conn.execute(text("SELECT count(*) FROM notifications"))).scalar_one()
        return rate, (after - before) / len(events), compiled, startup, cpu[-1]
    finally:
        await engine.dispose()


async def _seed(db_url: str) -> None:
    await upgrade_async(db_url)
    engine = make_engine(db_url)
    async with transaction(make_sessionmaker(engine)) as session:
        await seed_defaults(session)
    await engine.dispose()


async def run() -> dict[str, Any]:
    async with throwaway("matching") as (db_url, _amqp_url):
        await _seed(db_url)
        events = await _load(raw_dsn(db_url), random.Random(42))
        load_before = os.getloadavg()
        raw, candidates = await _raw_rate(raw_dsn(db_url), events[WARMUP:])
        raw_batched = await _raw_batched_rate(raw_dsn(db_url), events[WARMUP:])
        herald, notified, compiled, startup, cpu = await _herald_rate(
            db_url, events[:WARMUP], events[WARMUP:]
        )
        load_after = os.getloadavg()
    return {
        "load_average_1m": f"{load_before[0]:.1f} -> {load_after[0]:.1f}",
        "startup_compiled": compiled,
        "startup_s": round(startup, 1),
        "subscriptions": SUBSCRIPTIONS,
        "events": EVENTS,
        "candidates_per_event": round(candidates, 1),
        "notifications_per_event": round(notified, 1),
        "matching_per_s": round(herald),
        "processor_cpu_us_per_event": round(cpu * 1e6),
        "raw_candidate_fetch_per_s": round(raw),
        "raw_candidate_fetch_batched_per_s": round(raw_batched),
    }


def _report(result: dict[str, Any]) -> dict[str, Any]:
    raw = max(result["raw_candidate_fetch_per_s"], result["raw_candidate_fetch_batched_per_s"])
    ratio = result["matching_per_s"] / raw
    result |= {"ratio": round(ratio, 2), "target_per_s": TARGET_PER_S}
    verdict = "meets" if result["matching_per_s"] >= TARGET_PER_S else "below"
    print(
        f"matching: {result['matching_per_s']:,} events/s fully processed with "
        f"{result['subscriptions']:,} subscriptions stored ({verdict} the {TARGET_PER_S}/s "
        f"target; {result['candidates_per_event']} candidates and "
        f"{result['notifications_per_event']} notifications per event)\n"
        f"raw:      {result['raw_candidate_fetch_per_s']:,} events/s asyncpg fetching the "
        f"candidate rows alone, a query per event; "
        f"{result['raw_candidate_fetch_batched_per_s']:,} a query per {BATCH} events; same run\n"
        f"ratio:    {ratio:.2f} (to the faster raw fetch)\n"
        f"cpu:      processor {result['processor_cpu_us_per_event']:,} us/event (one core: "
        f"at most {1e6 / result['processor_cpu_us_per_event']:,.0f} events/s)\n"
        f"startup:  {result['startup_compiled']:,} subscriptions compiled in "
        f"{result['startup_s']} s before the first event\n"
        f"load:     1-minute load average {result['load_average_1m']} (2 cores, shared)"
    )
    return result


def main() -> dict[str, Any]:
    return _report(asyncio.run(run()))


if __name__ == "__main__":
    main()
