"""Storing events: accepted ones once per (tenant, source, id), rejected ones with their bytes.

Both entry points (the AMQP consumer and ``POST /v1/events``) store a batch with one multi-row
``INSERT … ON CONFLICT DO NOTHING``: one round trip for a batch of hundreds instead of one per
event. The functions only flush; the caller owns the transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy import insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.dialect import upsert
from libs.common.db.models import Event, EventStatus, new_uuid, utcnow
from libs.common.schemas.envelope import EventEnvelope, skipped_recipients
from services.ingest.intake.decode import Accepted, Rejected
from services.ingest.intake.rejected_tenant import tenants_of

log = logging.getLogger("herald.ingest.intake")

Key = tuple[str, str, str]  # (tenant, source, producer's id): the idempotency key
MAX_LOGGED_SKIPS = 20  # per event: enough to see the pattern, bounded for a 1 MiB event


@dataclass(frozen=True)
class Stored:
    event_id: str
    duplicate: bool


class EventRow(TypedDict):
    """An accepted event's ``events`` row."""

    id: str
    tenant: str
    source: str
    source_event_id: str
    type: str
    project_id: str | None
    entity_type: str
    entity_id: str
    priority: str
    occurred_at: datetime
    body: dict[str, Any]
    status: str
    attempts: int
    received_at: datetime


class RejectedRow(TypedDict):
    """A refused message's ``events`` row: its bytes and headers as they arrived."""

    id: str
    tenant: str | None
    raw: bytes
    headers: dict[str, Any]
    status: str
    error: str
    attempts: int
    received_at: datetime


def event_row(envelope: EventEnvelope, body: dict[str, Any]) -> EventRow:
    return {
        "id": new_uuid(),
        "tenant": envelope.tenant,
        "source": envelope.source,
        "source_event_id": envelope.id,
        "type": envelope.type,
        "project_id": envelope.project_id,
        "entity_type": envelope.entity.type,
        "entity_id": envelope.entity.id,
        "priority": envelope.priority.value,
        "occurred_at": envelope.occurred_at,
        "body": body,
        "status": EventStatus.RECEIVED.value,
        "attempts": 0,
        "received_at": utcnow(),
    }


def _key(envelope: EventEnvelope) -> Key:
    return (envelope.tenant, envelope.source, envelope.id)


async def store_events(session: AsyncSession, items: Sequence[Accepted]) -> list[Stored]:
    """Insert each event unless its key exists; a repeat (also within the batch) is marked
    ``duplicate`` and carries the first row's id. Results are in input order."""
    if not items:
        return []
    rows = [event_row(item.envelope, item.body) for item in items]
    stmt = (
        upsert(session, Event)
        .on_conflict_do_nothing(index_elements=["tenant", "source", "source_event_id"])
        .returning(Event.id, Event.tenant, Event.source, Event.source_event_id)
    )
    result = await session.execute(stmt, rows)
    fresh: dict[Key, str] = {(r.tenant, r.source, r.source_event_id): r.id for r in result}
    missing = {_key(i.envelope) for i in items} - fresh.keys()
    existing = await _existing_ids(session, missing)
    stored = _in_order(items, fresh, existing)
    _log_skipped(items, stored)
    return stored


def _log_skipped(items: Sequence[Accepted], stored: Sequence[Stored]) -> None:
    """Recipient ids the event could not use: once per stored event, for the producer's team.
    The reasons are derived from the stored body, so the admin's event page shows them too."""
    for item, row in zip(items, stored, strict=True):
        skipped = skipped_recipients(item.body)
        if skipped and not row.duplicate:
            log.warning(
                "event %s (%s %s): %d recipients skipped: %s",
                row.event_id,
                item.envelope.source,
                item.envelope.id,
                len(skipped),
                "; ".join(str(s) for s in skipped[:MAX_LOGGED_SKIPS]),
            )


def _in_order(
    items: Sequence[Accepted], fresh: dict[Key, str], existing: dict[Key, str]
) -> list[Stored]:
    out, seen = [], set()
    for item in items:
        key = _key(item.envelope)
        if key in fresh and key not in seen:
            out.append(Stored(fresh[key], duplicate=False))
        else:
            out.append(Stored(fresh.get(key) or existing[key], duplicate=True))
        seen.add(key)
    return out


async def _existing_ids(session: AsyncSession, keys: set[Key]) -> dict[Key, str]:
    if not keys:
        return {}
    cols = (Event.tenant, Event.source, Event.source_event_id)
    rows = await session.execute(select(Event.id, *cols).where(tuple_(*cols).in_(list(keys))))
    return {(r.tenant, r.source, r.source_event_id): r.id for r in rows}


async def store_rejected(session: AsyncSession, items: Sequence[Rejected]) -> list[str]:
    """Keep each invalid message exactly as it arrived, with the reason and the registered
    tenant it names (or NULL: ``rejected_tenant.py``); returns the row ids."""
    if not items:
        return []
    now = utcnow()
    tenants = await tenants_of(session, items)
    rows: list[RejectedRow] = [
        {
            "id": new_uuid(),
            "tenant": tenant,
            "raw": item.raw,
            "headers": jsonable_headers(item.headers),
            "status": EventStatus.REJECTED.value,
            "error": item.reason,
            "attempts": 0,
            "received_at": now,
        }
        for item, tenant in zip(items, tenants, strict=True)
    ]
    await session.execute(insert(Event), rows)
    return [row["id"] for row in rows]


def jsonable_headers(headers: dict[str, Any]) -> dict[str, Any]:
    """AMQP headers may hold bytes, datetimes or nested tables; keep a JSON-safe copy that
    jsonb can store (no NUL characters)."""
    out: dict[str, Any] = {}
    for key, value in headers.items():
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        elif not (isinstance(value, str | int | float | bool) or value is None):
            value = str(value)
        if isinstance(value, str):
            value = value.replace("\x00", "\ufffd")
        out[key.replace("\x00", "\ufffd")] = value
    return out
