"""bench/pipeline: events/s from AMQP publish to deliveries created (DESIGN §12: >= 1,000/s,
>= 60% of the raw limit), 3 recipients x 2 channels per event.

Ingest and the processor run as their own processes (`herald run ingest`, `herald run
processor`, default settings) on a throwaway PostgreSQL database and RabbitMQ vhost; the
sender's queue is declared so every sender nudge is really enqueued, but no sender runs. This
process publishes EVENTS envelopes with publisher confirms and polls the deliveries table; the
figure is EVENTS / (last delivery committed - first publish), after a warm-up.

Raw limit, in the same run and database: asyncpg alone writing the same rows with the same
batching Herald uses — 50 events per transaction, each kind of row in one multi-row INSERT over
arrays (the event rows, 150 notifications, 300 deliveries, then the status UPDATE). That is the
honest comparison: Herald's processor writes 50 events per transaction too. The older figure,
one transaction per event on one connection (DESIGN §12's first definition), and the same with
4 connections are printed for context only.

    .venv/bin/python -m bench.pipeline
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import aio_pika
import asyncpg

from bench._throwaway import raw_dsn, throwaway
from libs.common.bus.topology import (
    EVENTS_EXCHANGE,
    INGEST_QUEUE,
    PROCESS_QUEUE,
    SEND_KEY,
    SEND_QUEUE,
    WORK_EXCHANGE,
)
from libs.common.db.migrate import upgrade_async

EVENTS = 15_000
WARMUP = 1_000
RAW_EVENTS = 5_000
RAW_CONNECTIONS = 4
RAW_BATCH = 50  # events per transaction, as the processor's processor_batch_max
PUBLISH_WINDOW = 500  # publishes awaiting their confirm at once
POLL_S = 0.05
START_TIMEOUT_S = 60.0
RUN_TIMEOUT_S = 150.0
TARGET_PER_S = 1_000
TARGET_RATIO = 0.6
USERS = ("u-1", "u-2", "u-3")
API_KEY = "bench-producer-key-0123456789"
JWT_SECRET = "bench-jwt-secret-0123456789abcdefghijklmnop"


def _event(i: int) -> dict[str, Any]:
    return {
        "id": f"pipe-{i}",
        "source": "tenders",
        "type": "tender.requirement_added",
        "tenant": "default",
        "project_id": "P-42",
        "entity": {"type": "tender", "id": f"T-{i % 500}", "attributes": {"section": "basement"}},
        "actor": {"id": "u-7"},
        "recipients": {"assignee": ["u-1"], "owner": ["u-2"], "watcher": ["u-3"]},
        "priority": "normal",
        "occurred_at": "2026-11-26T10:00:00Z",
        "payload": {"title": f"Requirement {i}"},
    }


def _bodies(start: int, n: int) -> list[bytes]:
    return [json.dumps(_event(i)).encode() for i in range(start, start + n)]


async def _publish(url: str, bodies: list[bytes]) -> float:
    """Publish with confirms; returns the wall-clock time of the first publish."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(EVENTS_EXCHANGE)
        key = "tenders.tender.requirement_added"
        started = time.time()
        for i in range(0, len(bodies), PUBLISH_WINDOW):
            await asyncio.gather(
                *(
                    exchange.publish(aio_pika.Message(b, delivery_mode=2), routing_key=key)
                    for b in bodies[i : i + PUBLISH_WINDOW]
                )
            )
        return started


async def _wait_deliveries(conn: asyncpg.Connection, n: int) -> float:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        if await conn.fetchval("SELECT count(*) FROM deliveries") >= n:
            return time.time()
        await asyncio.sleep(POLL_S)
    got = await conn.fetchval("SELECT count(*) FROM deliveries")
    raise TimeoutError(f"{got} of {n} deliveries within {RUN_TIMEOUT_S}s")


async def _consumers(url: str, queue: str) -> int:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        try:
            q = await channel.declare_queue(queue, passive=True)
        except aio_pika.exceptions.ChannelClosed:
            return 0
        return int(q.declaration_result.consumer_count or 0)


async def _wait_ready(url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if await _consumers(url, INGEST_QUEUE) and await _consumers(url, PROCESS_QUEUE):
            return
        await asyncio.sleep(0.2)
    raise TimeoutError("ingest and processor did not start consuming")


async def _declare_send_queue(url: str) -> None:
    from libs.common.bus.amqp import AmqpBus
    from libs.common.bus.base import QueueSpec

    bus = AmqpBus(url)
    await bus.connect()
    try:
        await bus.declare(QueueSpec(SEND_QUEUE, bindings=[(WORK_EXCHANGE, SEND_KEY)]))
    finally:
        await bus.close()


async def _start(service: str, env: dict[str, str], workdir: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from herald.cli import main; main()", "run", service,
        "--host", "127.0.0.1", "--port", "0", "--log-level", "WARNING", env=env, cwd=workdir,
    )  # fmt: skip


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _herald_rate(db_url: str, amqp_url: str) -> tuple[float, dict[str, float]]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HERALD_")},
        "HERALD_DATABASE_URL": db_url,
        "HERALD_AMQP_URL": amqp_url,
        "HERALD_API_KEYS": json.dumps({API_KEY: "*"}),
        "HERALD_JWT_SECRET": JWT_SECRET,
        "HERALD_JWT_AUDIENCE": "bench",
        "HERALD_JWT_ISSUER": "bench",
        # the user API's inbox asks the mediator; nothing here reads the inbox
        "HERALD_MEDIATOR_URL": "http://127.0.0.1:9",
        "HERALD_MEDIATOR_API_KEY": "bench-mediator-key-0123456789",
        # e-mail has a provider, so its deliveries are planned and rendered (never connected)
        "HERALD_SMTP_HOST": "127.0.0.1",
    }
    procs: list[asyncio.subprocess.Process] = []
    with tempfile.TemporaryDirectory() as workdir:  # no stray .env file
        try:
            procs.append(await _start("ingest", env, workdir))
            procs.append(await _start("processor", env, workdir))
            await _wait_ready(amqp_url)
            await _declare_send_queue(amqp_url)
            conn = await asyncpg.connect(raw_dsn(db_url))
            try:
                await _publish(amqp_url, _bodies(0, WARMUP))
                await _wait_deliveries(conn, WARMUP * 6)
                cpu0 = [_cpu_s(p.pid) for p in procs]
                started = await _publish(amqp_url, _bodies(WARMUP, EVENTS))
                finished = await _wait_deliveries(conn, (WARMUP + EVENTS) * 6)
                cpu = [(_cpu_s(p.pid) - c) * 1e6 / EVENTS for p, c in zip(procs, cpu0, strict=True)]
            finally:
                await conn.close()
            per_event = {"ingest_cpu_us_per_event": cpu[0], "processor_cpu_us_per_event": cpu[1]}
            return EVENTS / (finished - started), per_event
        finally:
            for proc in procs:
                if proc.returncode is None:
                    proc.terminate()
            for proc in procs:
                await proc.wait()


# ---------------------------------------------------------------- the raw limit

EVENT_SQL = """INSERT INTO events (id, tenant, source, source_event_id, type, project_id,
 entity_type, entity_id, priority, occurred_at, body, status, attempts, received_at)
 VALUES ($1, 'default', 'tenders', $2, 'tender.requirement_added', 'P-42', 'tender', $3,
 'normal', $4, $5::jsonb, 'received', 0, now())"""
NOTE_SQL = """INSERT INTO notifications (tenant, event_id, user_id, reason, source, type,
 entity_type, entity_id, project_id, priority, title, body, created_at)
 SELECT 'default', $1, u, 'direct:assignee', 'tenders', 'tender.requirement_added', 'tender',
 $2, 'P-42', 'normal', $3, $4, now() FROM unnest($5::text[]) AS u RETURNING id, user_id"""
DELIVERY_SQL = """INSERT INTO deliveries (notification_id, tenant, user_id, source, channel,
 status, reason, subject, body, body_html, attempts, next_attempt_at, created_at)
 SELECT n, 'default', u, 'tenders', c, 'PENDING', 'direct:assignee', $1, $2, $3, 0, now(), now()
 FROM unnest($4::bigint[], $5::text[], $6::text[]) AS t(n, u, c)"""
DONE_SQL = "UPDATE events SET status = 'processed', processed_at = now() WHERE id = $1"
EVENTS_BATCH_SQL = """INSERT INTO events (id, tenant, source, source_event_id, type, project_id,
 entity_type, entity_id, priority, occurred_at, body, status, attempts, received_at)
 SELECT i, 'default', 'tenders', s, 'tender.requirement_added', 'P-42', 'tender', e, 'normal',
 $4, b::jsonb, 'received', 0, now() FROM unnest($1::text[], $2::text[], $3::text[], $5::text[])
 AS t(i, s, e, b)"""
NOTES_BATCH_SQL = """INSERT INTO notifications (tenant, event_id, user_id, reason, source, type,
 entity_type, entity_id, project_id, priority, title, body, created_at)
 SELECT 'default', ev, u, 'direct:assignee', 'tenders', 'tender.requirement_added', 'tender',
 e, 'P-42', 'normal', $4, $5, now() FROM unnest($1::text[], $2::text[], $3::text[])
 AS t(ev, e, u) RETURNING id, user_id"""
DONE_BATCH_SQL = (
    "UPDATE events SET status = 'processed', processed_at = now() WHERE id = ANY($1::text[])"
)


async def _raw_one(conn: asyncpg.Connection, i: int) -> None:
    event = _event(i)
    entity = event["entity"]["id"]
    async with conn.transaction():
        event_id = str(uuid.uuid4())
        occurred = datetime(2026, 11, 26, 10, tzinfo=UTC)
        await conn.execute(EVENT_SQL, event_id, event["id"], entity, occurred, json.dumps(event))
        notes = await conn.fetch(NOTE_SQL, event_id, entity, "title", "body", list(USERS))
        ids, users, channels = [], [], []
        for row in notes:
            for channel in ("email", "browser"):
                ids.append(row["id"])
                users.append(row["user_id"])
                channels.append(channel)
        await conn.execute(DELIVERY_SQL, "subject", "body", "<p>body</p>", ids, users, channels)
        await conn.execute(DONE_SQL, event_id)


async def _raw_batch(conn: asyncpg.Connection, start: int) -> None:
    """RAW_BATCH events in one transaction, one multi-row statement per kind of row."""
    events = [_event(i) for i in range(start, start + RAW_BATCH)]
    ids = [str(uuid.uuid4()) for _ in events]
    entities = [e["entity"]["id"] for e in events]
    occurred = datetime(2026, 11, 26, 10, tzinfo=UTC)
    async with conn.transaction():
        await conn.execute(
            EVENTS_BATCH_SQL, ids, [e["id"] for e in events], entities, occurred,
            [json.dumps(e) for e in events],
        )  # fmt: skip
        per_note = [(i, e, u) for i, e in zip(ids, entities, strict=True) for u in USERS]
        notes = await conn.fetch(
            NOTES_BATCH_SQL, *(list(col) for col in zip(*per_note, strict=True)), "title", "body"
        )
        rows = [(r["id"], r["user_id"], c) for r in notes for c in ("email", "browser")]
        await conn.execute(
            DELIVERY_SQL, "subject", "body", "<p>body</p>",
            *(list(col) for col in zip(*rows, strict=True)),
        )  # fmt: skip
        await conn.execute(DONE_BATCH_SQL, ids)


async def _raw_batched_rate(dsn: str, start: int) -> float:
    conn = await asyncpg.connect(dsn)
    try:
        t0 = time.perf_counter()
        for k in range(RAW_EVENTS // RAW_BATCH):
            await _raw_batch(conn, start + k * RAW_BATCH)
        return RAW_EVENTS // RAW_BATCH * RAW_BATCH / (time.perf_counter() - t0)
    finally:
        await conn.close()


async def _raw_rate(dsn: str, connections: int, start: int) -> float:
    conns = [await asyncpg.connect(dsn) for _ in range(connections)]
    per = RAW_EVENTS // connections

    async def worker(k: int) -> None:
        for i in range(per):
            await _raw_one(conns[k], start + k * per + i)

    try:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(connections)))
        return per * connections / (time.perf_counter() - t0)
    finally:
        for c in conns:
            await c.close()


# ---------------------------------------------------------------- plumbing


async def _seed(db_url: str) -> None:
    from libs.common.catalog.defaults import seed_defaults
    from libs.common.db.engine import make_engine, make_sessionmaker, transaction
    from libs.common.db.models import Recipient

    await upgrade_async(db_url)
    engine = make_engine(db_url)
    async with transaction(make_sessionmaker(engine)) as session:
        await seed_defaults(session)
        session.add_all(
            Recipient(tenant="default", user_id=u, email=f"{u}@example.com", roles=[],
                      attributes={}, locale="ru")
            for u in USERS
        )  # fmt: skip
    await engine.dispose()


async def run() -> dict[str, Any]:
    async with throwaway("pipeline") as (db_url, amqp_url):
        await _seed(db_url)
        dsn = raw_dsn(db_url)
        raw_batched = await _raw_batched_rate(dsn, 30_000_000)
        raw_1 = await _raw_rate(dsn, 1, 10_000_000)
        raw_n = await _raw_rate(dsn, RAW_CONNECTIONS, 20_000_000)
        conn = await asyncpg.connect(dsn)
        await conn.execute("TRUNCATE events CASCADE")
        await conn.close()
        herald, cpu = await _herald_rate(db_url, amqp_url)
    return {
        "events": EVENTS,
        "pipeline_per_s": round(herald),
        f"raw_asyncpg_batched{RAW_BATCH}_per_s": round(raw_batched),
        "raw_asyncpg_per_s": round(raw_1),
        f"raw_asyncpg_{RAW_CONNECTIONS}conn_per_s": round(raw_n),
        **{k: round(v) for k, v in cpu.items()},
    }


def _report(result: dict[str, Any]) -> dict[str, Any]:
    batched = result[f"raw_asyncpg_batched{RAW_BATCH}_per_s"]
    ratio = result["pipeline_per_s"] / batched
    ratio_1 = result["pipeline_per_s"] / result["raw_asyncpg_per_s"]
    ratio_n = result["pipeline_per_s"] / result[f"raw_asyncpg_{RAW_CONNECTIONS}conn_per_s"]
    result |= {
        "ratio": round(ratio, 2),
        "ratio_per_event_tx": round(ratio_1, 2),
        f"ratio_{RAW_CONNECTIONS}conn": round(ratio_n, 2),
    }
    rate_ok, ratio_ok = result["pipeline_per_s"] >= TARGET_PER_S, ratio >= TARGET_RATIO
    print(
        f"pipeline: {result['pipeline_per_s']:,} events/s AMQP publish→deliveries created "
        f"({result['events']:,} events x 3 recipients x 2 channels; "
        f"{'meets' if rate_ok else 'below'} the {TARGET_PER_S:,}/s target, ratio "
        f"{'meets' if ratio_ok else 'below'} {TARGET_RATIO:.0%})\n"
        f"raw:      {batched:,} events/s asyncpg, same rows, {RAW_BATCH} events per "
        f"transaction, multi-row INSERTs, 1 connection (same run)\n"
        f"ratio:    {ratio:.2f}\n"
        f"context:  {result['raw_asyncpg_per_s']:,} events/s asyncpg one transaction per event "
        f"(ratio {ratio_1:.2f}); {result[f'raw_asyncpg_{RAW_CONNECTIONS}conn_per_s']:,} with "
        f"{RAW_CONNECTIONS} connections (ratio {ratio_n:.2f})\n"
        f"cpu:      ingest {result['ingest_cpu_us_per_event']} us/event, "
        f"processor {result['processor_cpu_us_per_event']} us/event"
    )
    return result


def main() -> dict[str, Any]:
    return _report(asyncio.run(run()))


if __name__ == "__main__":
    main()
