"""Large events under processor kills: publish a 5,000-recipient event, then catch the moment
a processor's transaction is writing its rows, so a SIGKILL lands in the middle of it.

The transaction that claimed an event holds its row lock (``FOR UPDATE``), which PostgreSQL
records as the row's ``xmax``; ``pg_stat_activity.backend_xid`` names the transaction of each
backend. Joined, they say which backend holds the event, and its last statement whether it is
writing (an ``INSERT``) — while none of its rows are visible to anyone else yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import asyncpg

from libs.common.clients.producer import EventProducer
from tests.acceptance.chaos.population import SOURCE, TENANT, PlannedEvent
from tests.infra import raw_pg_dsn

CATCH_POLL_S = 0.005  # a chunk of 500 people takes far longer than this to write
CATCH_TIMEOUT_S = 60.0  # published → being written, on a loaded machine
PUBLISH_GIVE_UP_S = 60.0
PUBLISH_RETRY_S = 0.5

BEING_WRITTEN_SQL = """
SELECT e.source_event_id, a.state, left(a.query, 40), extract(epoch FROM now() - a.xact_start)
FROM events e
JOIN pg_stat_activity a ON a.backend_xid = e.xmax AND a.datname = current_database()
WHERE e.tenant = $1 AND e.source = $2 AND e.source_event_id = ANY($3::text[])
  AND e.status = 'received' AND a.state IN ('active', 'idle in transaction')
  AND a.query ILIKE 'insert%'"""


async def publish_large(amqp_url: str, event: PlannedEvent) -> None:
    """Published with confirms through the producers' client; retried until confirmed."""
    deadline = time.monotonic() + PUBLISH_GIVE_UP_S
    while True:
        try:
            async with EventProducer.amqp(amqp_url) as client:
                await client.emit(event.body())
            return
        except Exception:  # unconfirmed: publish again (ingest stores the id once)
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(PUBLISH_RETRY_S)


async def _probe(conn: asyncpg.Connection, event_ids: list[str]) -> dict[str, str]:
    rows = await conn.fetch(BEING_WRITTEN_SQL, TENANT, SOURCE, event_ids)
    return {r[0]: f"{r[2]}… ({r[1]}, transaction {float(r[3]):.2f}s old)" for r in rows}


async def being_written(db_url: str, event_ids: list[str]) -> dict[str, str]:
    """The large events whose rows a transaction is writing right now → what it is doing."""
    if not event_ids:
        return {}
    with contextlib.suppress(OSError, asyncpg.PostgresError):
        conn = await asyncpg.connect(raw_pg_dsn(db_url), timeout=5)
        try:
            return await _probe(conn, event_ids)
        finally:
            await conn.close()
    return {}


async def catch_mid_write(db_url: str, event_id: str) -> str | None:
    """Poll until a transaction is writing ``event_id``; what it was doing, or None when the
    event was never seen mid-write within the timeout (processed already, or never claimed)."""
    conn = await asyncpg.connect(raw_pg_dsn(db_url), timeout=5)
    try:
        deadline = time.monotonic() + CATCH_TIMEOUT_S
        while time.monotonic() < deadline:
            found = await _probe(conn, [event_id])
            if found:
                return found[event_id]
            await asyncio.sleep(CATCH_POLL_S)
        return None
    finally:
        await conn.close()
