"""bench/sender: e-mails/s through the sender to a local SMTP sink (DESIGN §12: >= 500/s).

The sink is aiosmtpd in its own process, answering 250 to everything. Measured in the same
run against the same sink:

* raw limit — aiosmtplib alone: pre-built messages over as many reused connections as the
  sender's pool, no database, no permission check;
* Herald — the real sender loop on PostgreSQL: claim batches (committed, SKIP LOCKED), one
  permission call per batch to a local HTTP mediator (aiohttp, answering yes), build each
  MIME message, send through the SMTP pool, record outcomes (group commit) — from the first
  claim until every delivery is SENT.

    .venv/bin/python -m bench.sender
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiosmtplib
import asyncpg

from bench._throwaway import server_process
from libs.common.bus import Message
from libs.common.clients.mediator_client import MediatorClient
from libs.common.db.engine import make_engine, make_sessionmaker
from libs.common.db.migrate import upgrade_async
from services.sender.providers.base import OutgoingMessage
from services.sender.providers.email_message import build_email
from services.sender.providers.email_smtp import SmtpProvider
from services.sender.settings import SenderSettings
from services.sender.worker import Sender
from tests.integration.services.sender.support import MEDIATOR_KEY, mediator_server

SERVER_URL = os.environ.get(
    "HERALD_BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
MAILS = 4_000
POOL = 4  # SMTP connections, for both measurements
TARGET_PER_S = 500.0
ROUNDS = 4
BODY = "The deadline is now 5 December."
HTML = "<p>The deadline is now <b>5 December</b>.</p>"
HERALD_LIMIT_S = 120.0
POLL_S = 0.02

SEED = f"""
INSERT INTO events (id, tenant, source, type, status, attempts, received_at)
VALUES ('bench-event', 'default', 'tenders', 'tender.updated', 'processed', 0, now());
INSERT INTO recipients (tenant, user_id, email, locale, timezone, roles, attributes, updated_at)
SELECT 'default', 'u-' || g, 'u' || g || '@example.com', 'en', 'UTC', '[]', '{{}}', now()
FROM generate_series(1, {MAILS}) AS g;
INSERT INTO notifications (tenant, event_id, user_id, reason, source, type, entity_type,
                           entity_id, project_id, priority, title, body, created_at)
SELECT 'default', 'bench-event', 'u-' || g, 'direct:assignee', 'tenders', 'tender.updated',
       'tender', 'T-' || g, 'P-1', 'normal', 'Tender changed', 'Deadline moved', now()
FROM generate_series(1, {MAILS}) AS g;
INSERT INTO deliveries (notification_id, tenant, user_id, source, channel, status, reason,
                        subject, body, body_html, attempts, next_attempt_at, created_at)
SELECT n.id, 'default', n.user_id, 'tenders', 'email', 'PENDING', 'direct:assignee',
       'Tender ' || n.entity_id || ': deadline moved', '{BODY}', '{HTML}', 0,
       now() + interval '1 day', now()  -- made due round by round
FROM notifications n ORDER BY n.id;
ANALYZE deliveries;
"""


def _sink(port: int, ready: Any) -> None:
    from aiosmtpd.smtp import SMTP

    class Accept:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            return "250 OK"

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        await loop.create_server(lambda: SMTP(Accept(), hostname="sink"), "127.0.0.1", port)
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(serve())


class RawLanes:
    """aiosmtplib alone: POOL reused connections, each sending its share of pre-built mails."""

    def __init__(self, port: int) -> None:
        self._clients = [
            aiosmtplib.SMTP(hostname="127.0.0.1", port=port, local_hostname="b.test")
            for _ in range(POOL)
        ]

    async def open(self) -> None:
        for c in self._clients:
            await c.connect()

    async def close(self) -> None:
        for c in self._clients:
            await c.quit()

    async def round(self, first_id: int, count: int) -> float:
        """Seconds to send ``count`` mails like the ones the sender builds."""
        mails = [
            build_email(
                OutgoingMessage(i, f"Tender T-{i}: deadline moved", BODY, HTML),
                "n@b.test",
                f"u{i}@example.com",
            )
            for i in range(first_id, first_id + count)
        ]
        started = time.perf_counter()
        await asyncio.gather(*(self._lane(c, mails[i::POOL]) for i, c in enumerate(self._clients)))
        return time.perf_counter() - started

    @staticmethod
    async def _lane(client: aiosmtplib.SMTP, share: list[bytes]) -> None:
        for mail in share:
            await client.sendmail("n@b.test", ["a@b.test"], mail)


@asynccontextmanager
async def running_sender(database_url: str, smtp_port: int) -> AsyncIterator[Sender]:
    """The sender's real loop, as `herald run sender` runs it (minus HTTP and the bus)."""
    async with mediator_server() as mediator_url:
        settings = SenderSettings(
            database_url=database_url,
            amqp_url="memory://bench",
            mediator_url=mediator_url,
            mediator_api_key=MEDIATOR_KEY,
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            smtp_pool_size=POOL,
            email_from="n@b.test",
        )
        engine = make_engine(database_url)
        provider = SmtpProvider(settings)
        mediator = MediatorClient(mediator_url, MEDIATOR_KEY)
        sender = Sender(make_sessionmaker(engine), {"email": provider}, mediator, settings)
        loop = asyncio.create_task(sender.run_forever())
        try:
            yield sender
        finally:
            sender.stop()
            await loop
            await provider.close()
            await mediator.close()
            await engine.dispose()


async def herald_round(conn: asyncpg.Connection, sender: Sender, upto: int) -> float:
    """Seconds from making deliveries 1..upto due (and nudging) until all of them are SENT."""
    await conn.execute(
        "UPDATE deliveries SET next_attempt_at = now() WHERE id <= $1 AND status = 'PENDING'",
        upto,
    )
    started = time.perf_counter()
    await sender.on_nudge(Message(b"{}", "send"))
    deadline = time.monotonic() + HERALD_LIMIT_S
    while True:
        sent = await conn.fetchval("SELECT count(*) FROM deliveries WHERE status = 'SENT'")
        if sent >= upto:
            return time.perf_counter() - started
        if time.monotonic() > deadline:
            states = await conn.fetch("SELECT status, count(*) FROM deliveries GROUP BY 1")
            raise RuntimeError(f"not all sent within {HERALD_LIMIT_S}s: {states}")
        await asyncio.sleep(POLL_S)


async def measure(database_url: str, dsn: str, smtp_port: int) -> tuple[float, float]:
    """Alternate rounds (raw, Herald, raw, Herald …) so a noisy neighbour hits both alike."""
    raw = RawLanes(smtp_port)
    await raw.open()
    conn = await asyncpg.connect(dsn)
    raw_s = herald_s = 0.0
    per_round = MAILS // ROUNDS
    try:
        async with running_sender(database_url, smtp_port) as sender:
            for r in range(ROUNDS):
                raw_s += await raw.round(r * per_round + 1, per_round)
                herald_s += await herald_round(conn, sender, (r + 1) * per_round)
    finally:
        await conn.close()
        await raw.close()
    return MAILS / raw_s, MAILS / herald_s


def _dsn(url: str, database: str) -> str:
    parts = urlsplit(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


async def run(smtp_port: int) -> dict[str, Any]:
    name = f"herald_bench_sender_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(_dsn(SERVER_URL, "postgres"))
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(SERVER_URL)._replace(path=f"/{name}"))
    try:
        await upgrade_async(url)
        seed = await asyncpg.connect(_dsn(SERVER_URL, name))
        await seed.execute(SEED)
        await seed.close()
        raw, herald = await measure(url, _dsn(SERVER_URL, name), smtp_port)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return {
        "mails": MAILS,
        "smtp_connections": POOL,
        "herald_emails_per_s": round(herald, 1),
        "raw_aiosmtplib_emails_per_s": round(raw, 1),
        "ratio": round(herald / raw, 3),
        "target_emails_per_s": TARGET_PER_S,
        "meets_target": herald >= TARGET_PER_S,
    }


def main() -> dict[str, Any]:
    with server_process(_sink, "the SMTP sink") as port:
        result = asyncio.run(run(port))
    print(
        f"sender: {result['herald_emails_per_s']:.0f} e-mails/s through Herald "
        f"(target >= {TARGET_PER_S:.0f}); aiosmtplib alone against the same sink: "
        f"{result['raw_aiosmtplib_emails_per_s']:.0f}/s; ratio {result['ratio']:.2f} "
        f"({MAILS} mails, {POOL} SMTP connections, PostgreSQL)"
    )
    return result


if __name__ == "__main__":
    main()
