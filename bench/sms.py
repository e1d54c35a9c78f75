"""bench/sms: SMS/s through the sender to a local HTTP gateway (issue 17: >= 500/s).

The gateway is aiohttp in its own process, answering 200 with an id to every POST. Measured in
the same run against the same gateway, with the same concurrency:

* raw limit — aiohttp alone: the same JSON POSTs (bearer token, same body) over a connection
  pool of the sender's size, as many requests in flight as the sender has (batch × loops), no
  database, no permission check;
* Herald — the real sender loop on PostgreSQL: claim batches (committed, SKIP LOCKED), one
  permission call per batch to a local HTTP mediator, the SMS text cut to its segment budget,
  the POST through the provider (rate limit set out of the way), outcomes recorded (group
  commit) — from the first claim until every delivery is SENT.

    .venv/bin/python -m bench.sms
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import asyncpg

from bench._throwaway import raw_dsn, serve_forever, server_process, throwaway
from bench.sender import herald_round
from libs.common.bus.memory import MemoryBus
from libs.common.clients.mediator_client import MediatorClient
from libs.common.db.engine import make_engine, make_sessionmaker
from libs.common.db.migrate import upgrade_async
from services.sender.channels import build_providers
from services.sender.settings import SenderSettings
from services.sender.worker import Sender
from tests.integration.services.sender.support import MEDIATOR_KEY, mediator_server

MESSAGES = 4_000
POOL = 32  # HTTP connections to the gateway, for both measurements
BATCH, LOOPS = 100, 2  # the sender's defaults: up to BATCH × LOOPS sends in flight
TARGET_PER_S = 500.0
ROUNDS = 4
TOKEN = "bench-gateway-token"
TEXT = "tenders: Add fire-safety certificate (tender T-1001 · project P-42)"
NO_LIMIT_PER_S = 1_000_000.0  # the gateway's rate limit is a setting; here it measures Herald

SEED = f"""
INSERT INTO events (id, tenant, source, type, status, attempts, received_at)
VALUES ('bench-event', 'default', 'tenders', 'tender.updated', 'processed', 0, now());
INSERT INTO recipients (tenant, user_id, phone, locale, timezone, roles, attributes, updated_at)
SELECT 'default', 'u-' || g, '+7916' || lpad(g::text, 7, '0'), 'ru', 'UTC', '[]', '{{}}', now()
FROM generate_series(1, {MESSAGES}) AS g;
INSERT INTO notifications (tenant, event_id, user_id, reason, source, type, entity_type,
                           entity_id, project_id, priority, title, body, created_at)
SELECT 'default', 'bench-event', 'u-' || g, 'direct:assignee', 'tenders', 'tender.updated',
       'tender', 'T-' || g, 'P-1', 'normal', 'Tender changed', 'Deadline moved', now()
FROM generate_series(1, {MESSAGES}) AS g;
INSERT INTO deliveries (notification_id, tenant, user_id, source, channel, status, reason,
                        subject, body, attempts, next_attempt_at, created_at)
SELECT n.id, 'default', n.user_id, 'tenders', 'sms', 'PENDING', 'direct:assignee',
       '', '{TEXT}', 0, now() + interval '1 day', now()  -- made due round by round
FROM notifications n ORDER BY n.id;
ANALYZE deliveries;
"""


def _gateway(port: int, ready: Any) -> None:
    from aiohttp import web

    async def send(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({"id": f"gw-{body['id']}"})

    app = web.Application()
    app.router.add_post("/send", send)
    serve_forever(app, port, ready)


async def raw_round(http: aiohttp.ClientSession, url: str, first_id: int, count: int) -> float:
    """Seconds to POST ``count`` messages, BATCH × LOOPS in flight, like the sender does."""
    ids = iter(range(first_id, first_id + count))

    async def lane() -> None:
        for i in ids:
            body = {"to": f"+7916{i:07d}", "text": TEXT, "id": f"herald-{i}"}
            async with http.post(url, json=body) as resp:
                await resp.read()
                resp.raise_for_status()

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(BATCH * LOOPS)))
    return time.perf_counter() - started


@asynccontextmanager
async def running_sender(database_url: str, url: str) -> AsyncIterator[Sender]:
    """The sender's real loop with the SMS channel built from the registry."""
    async with mediator_server() as mediator_url:
        settings = SenderSettings(
            database_url=database_url, amqp_url="memory://bench", mediator_url=mediator_url,
            mediator_api_key=MEDIATOR_KEY, sms_gateway_url=url, sms_gateway_token=TOKEN,
            sms_pool_size=POOL, sms_rate_per_s=NO_LIMIT_PER_S, sender_batch=BATCH,
            sender_loops=LOOPS,
        )  # fmt: skip
        engine = make_engine(database_url)
        sessions = make_sessionmaker(engine)
        providers = build_providers(settings, MemoryBus(), sessions)
        for provider in providers.values():
            await provider.start()
        mediator = MediatorClient(mediator_url, MEDIATOR_KEY)
        sender = Sender(sessions, providers, mediator, settings)
        loop = asyncio.create_task(sender.run_forever())
        try:
            yield sender
        finally:
            sender.stop()
            await loop
            for provider in providers.values():
                await provider.close()
            await mediator.close()
            await engine.dispose()


async def measure(database_url: str, url: str) -> tuple[float, float]:
    """Alternate rounds (raw, Herald, raw, Herald …) so a noisy neighbour hits both alike."""
    per_round = MESSAGES // ROUNDS
    raw_s = herald_s = 0.0
    headers = {"Authorization": f"Bearer {TOKEN}"}
    conn = await asyncpg.connect(raw_dsn(database_url))
    connector = aiohttp.TCPConnector(limit=POOL)
    try:
        async with (
            aiohttp.ClientSession(connector=connector, headers=headers) as http,
            running_sender(database_url, url) as sender,
        ):
            for r in range(ROUNDS):
                raw_s += await raw_round(http, url, r * per_round + 1, per_round)
                herald_s += await herald_round(conn, sender, (r + 1) * per_round)
    finally:
        await conn.close()
    return MESSAGES / raw_s, MESSAGES / herald_s


async def run(url: str) -> dict[str, Any]:
    async with throwaway("sms") as (database_url, _amqp):
        await upgrade_async(database_url)
        seed = await asyncpg.connect(raw_dsn(database_url))
        await seed.execute(SEED)
        await seed.close()
        raw, herald = await measure(database_url, url)
    return {
        "messages": MESSAGES,
        "http_connections": POOL,
        "in_flight": BATCH * LOOPS,
        "herald_sms_per_s": round(herald, 1),
        "raw_aiohttp_sms_per_s": round(raw, 1),
        "ratio": round(herald / raw, 3),
        "target_sms_per_s": TARGET_PER_S,
        "meets_target": herald >= TARGET_PER_S,
    }


def main() -> dict[str, Any]:
    with server_process(_gateway, "the SMS gateway") as port:
        result = asyncio.run(run(f"http://127.0.0.1:{port}/send"))
    print(
        f"sms: {result['herald_sms_per_s']:.0f} SMS/s through Herald (target >= "
        f"{TARGET_PER_S:.0f}); aiohttp alone against the same gateway: "
        f"{result['raw_aiohttp_sms_per_s']:.0f}/s; ratio {result['ratio']:.2f} "
        f"({MESSAGES} messages, {POOL} connections, {BATCH * LOOPS} in flight, PostgreSQL)"
    )
    return result


if __name__ == "__main__":
    main()
