"""After the storm: wait (bounded) until nothing moves, then count what the system did.

Counted from the database and from the SMTP sink's own record, against what the scenario
computed up front (population.expected_deliveries): nothing here trusts Herald's metrics.
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

from tests.chaos.population import MAIL_DOMAIN, SOURCE, TENANT
from tests.chaos.servers import RabbitNode
from tests.infra import raw_pg_dsn

POLL_S = 1.0
STABLE_POLLS = 3  # this many identical, settled polls in a row: quiescent

EVENTS_SQL = "SELECT source_event_id, status FROM events WHERE tenant = $1 AND source = $2"
DELIVERIES_SQL = """
SELECT e.source_event_id, d.user_id, d.channel, d.status, d.id, d.attempts
FROM deliveries d
JOIN notifications n ON n.id = d.notification_id
JOIN events e ON e.id = n.event_id
WHERE e.tenant = $1 AND e.source = $2"""
PROGRESS_SQL = """
SELECT (SELECT count(*) FROM events WHERE status = 'received'),
       (SELECT count(*) FROM events),
       (SELECT count(*) FROM deliveries WHERE status IN ('PENDING', 'SENDING')),
       (SELECT count(*) FROM deliveries)"""


@dataclass
class Observed:
    events: dict[str, str]  # source event id → status
    # (event id, user, channel) → (status, delivery id, attempts)
    deliveries: dict[tuple[str, str, str], tuple[str, int, int]]
    mails: list[dict[str, Any]]  # the sink's record, one entry per accepted transaction
    settled_after_s: float
    settled: bool


async def _progress(dsn: str) -> tuple[Any, ...] | None:
    try:
        conn = await asyncpg.connect(dsn, timeout=5)
    except (OSError, asyncpg.PostgresError):
        return None  # a restart in progress: ask again
    try:
        row = await conn.fetchrow(PROGRESS_SQL)
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
        rows = await conn.fetch(DELIVERIES_SQL, TENANT, SOURCE)
    finally:
        await conn.close()
    deliveries = {(r[0], r[1], r[2]): (r[3], r[4], r[5]) for r in rows}
    if len(deliveries) != len(rows):  # two rows for one (event, person, channel)
        deliveries[("<duplicate rows>", str(len(rows) - len(deliveries)), "")] = ("", 0, 0)
    lines = sink_record.read_text("utf-8").splitlines() if sink_record.exists() else []
    mails = [json.loads(line) for line in lines if line.strip()]
    return Observed(events, deliveries, mails, settled[1], settled[0])


def message_id(delivery_id: int) -> str:
    return f"<delivery-{delivery_id}@{MAIL_DOMAIN}>"


@dataclass
class Findings:
    events_lost: list[str] = field(default_factory=list)
    events_unprocessed: dict[str, str] = field(default_factory=dict)
    deliveries_lost: list[tuple[str, str, str]] = field(default_factory=list)
    deliveries_not_sent: dict[tuple[str, str, str], str] = field(default_factory=dict)
    deliveries_unexpected: list[tuple[str, str, str]] = field(default_factory=list)
    mails_missing: list[str] = field(default_factory=list)  # SENT e-mail the sink never saw
    mails_foreign: list[str] = field(default_factory=list)  # a Message-ID no delivery has
    duplicates: dict[str, int] = field(default_factory=dict)  # Message-ID → times accepted
    duplicates_differing: list[str] = field(default_factory=list)  # same id, other mail
    duplicates_unexplained: list[str] = field(default_factory=list)  # no fault could cause
    duplicates_unclaimed: list[str] = field(default_factory=list)  # sent more than claimed
    duplicates_by_fault: Counter[str] = field(default_factory=Counter)  # fault label → mails


def examine(
    published: list[str],
    expected: set[tuple[str, str, str]],
    seen: Observed,
    dup_faults: list[tuple[str, float, float]],
) -> Findings:
    """``dup_faults``: (label, start, end) wall-clock windows of the faults that may strand
    an accepted but unrecorded e-mail — sender kills and PostgreSQL restarts."""
    f = Findings()
    f.events_lost = sorted(set(published) - set(seen.events))
    f.events_unprocessed = {i: s for i, s in seen.events.items() if s != "processed"}
    f.deliveries_lost = sorted(expected - set(seen.deliveries))
    f.deliveries_unexpected = sorted(set(seen.deliveries) - expected)
    f.deliveries_not_sent = {k: v[0] for k, v in seen.deliveries.items() if v[0] != "SENT"}
    _examine_mails(f, seen, dup_faults)
    return f


def _examine_mails(f: Findings, seen: Observed, dup_faults: list[tuple[str, float, float]]) -> None:
    attempts = {message_id(d[1]): d[2] for k, d in seen.deliveries.items() if k[2] == "email"}
    wanted = set(attempts)
    by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for mail in seen.mails:
        by_id[str(mail["message_id"])].append(mail)
    sent = {
        message_id(d[1]) for k, d in seen.deliveries.items() if k[2] == "email" and d[0] == "SENT"
    }
    f.mails_missing = sorted(sent - set(by_id))
    f.mails_foreign = sorted(set(by_id) - wanted)
    counts = Counter({mid: len(mails) for mid, mails in by_id.items()})
    f.duplicates = {mid: n for mid, n in counts.items() if n > 1}
    for mid in f.duplicates:
        copies = by_id[mid]
        if len({(tuple(m["to"]), m["subject"]) for m in copies}) > 1:
            f.duplicates_differing.append(mid)
        first, last = min(m["at"] for m in copies), max(m["at"] for m in copies)
        # the first copy went out before the fault, a later one after it
        causes = [label for label, start, end in dup_faults if start <= last and end >= first]
        if causes:
            f.duplicates_by_fault[causes[0]] += 1
        if len(copies) - 1 > len(causes):  # each extra copy needs a fault of its own
            f.duplicates_unexplained.append(mid)
        if len(copies) > attempts.get(mid, 0):  # each send needs a claim: else two senders
            f.duplicates_unclaimed.append(mid)  # held the row at once (a locking bug)


def problems(f: Findings, in_flight_max: int) -> list[str]:
    """Each broken promise, in words; empty when the run proved what it should.
    ``in_flight_max``: deliveries one sender holds at most (loops × batch) — no fault can
    strand more than those."""
    checks = [
        (f.events_lost, "events lost"),
        (f.events_unprocessed, "events not processed"),
        (f.deliveries_lost, "deliveries lost"),
        (f.deliveries_not_sent, "deliveries not SENT"),
        (f.deliveries_unexpected, "unexpected deliveries"),
        (f.mails_missing, "SENT e-mails the SMTP server never accepted"),
        (f.mails_foreign, "e-mails with a Message-ID no delivery has"),
        (f.duplicates_differing, "duplicate Message-IDs carrying different mails"),
        (f.duplicates_unexplained, "duplicate e-mails without a sender kill or PG restart each"),
        (f.duplicates_unclaimed, "e-mails sent more often than their delivery was claimed"),
    ]
    out = [
        f"{n} duplicates after {label}: more than the {in_flight_max} a sender holds at most"
        for label, n in f.duplicates_by_fault.items()
        if n > in_flight_max
    ]
    for found, what in checks:
        if found:
            sample = list(found.items())[:5] if isinstance(found, dict) else list(found)[:5]
            out.append(f"{what}: {len(found)} (e.g. {sample})")
    return out


WORK_QUEUES = ("herald.ingest", "herald.process", "herald.send")
QueueState = dict[str, tuple[int, int]]  # queue → (consumers, messages)


def broker_problems(rabbit: RabbitNode) -> tuple[QueueState, list[str]]:
    """After the RabbitMQ restart every consumer must be back: a sweep would hide a processor
    or sender that stopped consuming, so ask the broker. Dead letters are reported too."""
    rows = rabbit.table("list_queues", "name", "consumers", "messages")
    queues = {r[0]: (int(r[1]), int(r[2])) for r in rows}
    bindings = rabbit.table("list_bindings", "source_name", "destination_name")
    browser = {r[1] for r in bindings if r[0] == "herald.browser"}
    found = [f"{q}: no consumer" for q in WORK_QUEUES if queues.get(q, (0, 0))[0] < 1]
    found += [f"{q}: {queues[q][1]} messages left" for q in WORK_QUEUES if queues.get(q, (0, 0))[1]]
    found += [f"{q}: {n} dead letters" for q, (_, n) in queues.items() if q.endswith(".dead") and n]
    if not any(queues.get(q, (0, 0))[0] for q in browser):
        found.append("herald.browser: no websocket gateway consuming")
    return queues, found
