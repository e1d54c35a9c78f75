"""After the storm: wait (bounded) until nothing moves, then read what the system did.

Read from the database, the SMTP sink's own record and the broker; ``verdict.py`` compares it
with what the scenario computed up front (``expected.py``): nothing here trusts Herald's
metrics.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from tests.acceptance.chaos.poison import POISON_SOURCE
from tests.acceptance.chaos.population import SOURCE, TENANT
from tests.acceptance.chaos.servers import RabbitNode
from tests.infra import raw_pg_dsn

POLL_S = 1.0
STABLE_POLLS = 3  # this many identical, settled polls in a row: quiescent

EVENTS_SQL = "SELECT source_event_id, status FROM events WHERE tenant = $1 AND source = $2"
NOTIFICATIONS_SQL = """
SELECT e.source_event_id, n.user_id FROM notifications n JOIN events e ON e.id = n.event_id
WHERE e.tenant = $1 AND e.source = $2"""
DELIVERIES_SQL = """
SELECT e.source_event_id, d.user_id, d.channel, d.status, d.id, d.attempts, d.reason
FROM deliveries d
JOIN notifications n ON n.id = d.notification_id
JOIN events e ON e.id = n.event_id
WHERE e.tenant = $1 AND e.source = $2"""
REJECTED_SQL = "SELECT raw, coalesce(error, '') FROM events WHERE status = 'rejected'"
# what is still moving when the run did not settle: for the report, to find the cause
STALLED_SQL = """
SELECT 'delivery ' || id || ' ' || channel || ' ' || status || ' attempts=' || attempts
    || ' lease_left=' || coalesce((locked_until - now())::text, '-')
    || ' due_in=' || coalesce((next_attempt_at - now())::text, '-')
    || ' last_error=' || left(coalesce(last_error, ''), 200)
FROM deliveries WHERE status IN ('PENDING', 'SENDING') ORDER BY id LIMIT 10"""
ACTIVITY_SQL = """
SELECT 'backend ' || pid || ' ' || state || ' wait=' || coalesce(wait_event_type, '-') || '/'
    || coalesce(wait_event, '-') || ' xact_age=' || coalesce((now() - xact_start)::text, '-')
    || ' query=' || left(query, 160)
FROM pg_stat_activity
WHERE datname = current_database() AND state <> 'idle' AND pid <> pg_backend_pid()"""
# the scenario's own events and deliveries only: a stray one elsewhere must not stall the wait
PROGRESS_SQL = """
SELECT (SELECT count(*) FROM events WHERE source = $1 AND status = 'received'),
       (SELECT count(*) FROM events WHERE source = $1 AND status <> 'rejected'),
       (SELECT count(*) FROM deliveries WHERE source = $1 AND status IN ('PENDING', 'SENDING')),
       (SELECT count(*) FROM deliveries),
       (SELECT count(*) FROM events WHERE status = 'rejected')"""


@dataclass(frozen=True)
class Row:
    status: str
    id: int
    attempts: int
    reason: str


@dataclass
class Observed:
    events: dict[str, str]  # source event id → status
    notifications: Counter[tuple[str, str]]  # (event id, user) → rows
    deliveries: dict[tuple[str, str, str], list[Row]]  # (event id, user, channel) → its rows
    rejected: list[tuple[bytes, str]]  # every rejected row: (raw bytes, reason)
    poison_events: dict[str, str]  # events stored under the poison source: id → status
    mails: list[dict[str, Any]]  # the sink's record, one entry per accepted transaction
    settled_after_s: float
    settled: bool
    stalled: list[str] = field(default_factory=list)  # not settled: what was still open


async def _progress(dsn: str) -> tuple[Any, ...] | None:
    try:
        conn = await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError):
        return None  # a restart in progress: ask again
    try:
        row = await conn.fetchrow(PROGRESS_SQL, SOURCE)
        return tuple(row) if row else None
    finally:
        await conn.close()


async def wait_quiescent(db_url: str, expected_events: int, timeout_s: float) -> tuple[bool, float]:
    """Every event stored and past ``received``, no delivery pending or in flight, and the
    counts unchanged for a few polls. Returns (settled, seconds waited)."""
    dsn, started, last, stable = raw_pg_dsn(db_url), time.monotonic(), None, 0
    while time.monotonic() - started < timeout_s:
        now = await _progress(dsn)
        settled = now is not None and now[0] == 0 and now[1] >= expected_events and now[2] == 0
        stable = stable + 1 if settled and now == last else 0
        if stable >= STABLE_POLLS:
            return True, time.monotonic() - started
        last = now
        await asyncio.sleep(POLL_S)
    return False, time.monotonic() - started


async def observe(db_url: str, sink_record: Path, settled: tuple[bool, float]) -> Observed:
    conn = await asyncpg.connect(raw_pg_dsn(db_url))
    try:
        events = {r[0]: r[1] for r in await conn.fetch(EVENTS_SQL, TENANT, SOURCE)}
        notes = Counter((r[0], r[1]) for r in await conn.fetch(NOTIFICATIONS_SQL, TENANT, SOURCE))
        rows = await conn.fetch(DELIVERIES_SQL, TENANT, SOURCE)
        rejected = [(bytes(r[0] or b""), r[1]) for r in await conn.fetch(REJECTED_SQL)]
        poison = {r[0]: r[1] for r in await conn.fetch(EVENTS_SQL, TENANT, POISON_SOURCE)}
        stalled = [] if settled[0] else [
            r[0] for sql in (STALLED_SQL, ACTIVITY_SQL) for r in await conn.fetch(sql)
        ]  # fmt: skip
    finally:
        await conn.close()
    deliveries: dict[tuple[str, str, str], list[Row]] = defaultdict(list)
    for r in rows:
        deliveries[(r[0], r[1], r[2])].append(Row(r[3], r[4], r[5], r[6] or ""))
    lines = sink_record.read_text("utf-8").splitlines() if sink_record.exists() else []
    mails = [json.loads(line) for line in lines if line.strip()]
    return Observed(
        events, notes, dict(deliveries), rejected, poison, mails, settled[1], settled[0], stalled
    )


WORK_QUEUES = ("herald.ingest", "herald.process", "herald.send")
INGEST = "herald.ingest"
QueueState = dict[str, tuple[int, int, int]]  # queue → (consumers, messages, unacked)


def broker_problems(rabbit: RabbitNode) -> tuple[QueueState, list[str]]:
    """After the RabbitMQ restart every consumer must be back: a sweep would hide a processor
    or sender that stopped consuming, so ask the broker. Dead letters are reported too, and
    ingest's queue must end empty with nothing unacked (no poison message left unsettled)."""
    rows = rabbit.table("list_queues", "name", "consumers", "messages", "messages_unacknowledged")
    queues = {r[0]: (int(r[1]), int(r[2]), int(r[3])) for r in rows}
    bindings = rabbit.table("list_bindings", "source_name", "destination_name")
    browser = {r[1] for r in bindings if r[0] == "herald.browser"}
    empty = (0, 0, 0)
    found = [f"{q}: no consumer" for q in WORK_QUEUES if queues.get(q, empty)[0] < 1]
    found += [f"{q}: {queues[q][1]} messages left" for q in WORK_QUEUES if queues.get(q, empty)[1]]
    dead = {q: n for q, (_, n, _) in queues.items() if q.endswith(".dead")}
    found += [f"{q}: {n} dead letters" for q, n in dead.items() if n]
    if queues.get(INGEST, empty)[2]:
        found.append(f"{INGEST}: {queues[INGEST][2]} messages unacked")
    if not any(queues.get(q, empty)[0] for q in browser):
        found.append("herald.browser: no websocket gateway consuming")
    return queues, found
