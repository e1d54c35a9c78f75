"""Storing events: accepted ones once per (tenant, source, id), rejected ones with their bytes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.engine import dialect_name
from libs.common.db.models import Event, EventStatus, new_uuid, utcnow
from libs.common.schemas.envelope import EventEnvelope


@dataclass(frozen=True)
class Stored:
    event_id: str
    duplicate: bool


def _insert(session: AsyncSession) -> Any:
    return postgresql.insert if dialect_name(session) == "postgresql" else sqlite.insert


def event_row(envelope: EventEnvelope, body: dict[str, Any]) -> dict[str, Any]:
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


async def store_event(
    session: AsyncSession, envelope: EventEnvelope, body: dict[str, Any]
) -> Stored:
    """Insert unless (tenant, source, id) exists; a repeat returns the first row's id."""
    row = event_row(envelope, body)
    stmt = (
        _insert(session)(Event)
        .values(**row)
        .on_conflict_do_nothing(index_elements=["tenant", "source", "source_event_id"])
        .returning(Event.id)
    )
    inserted = (await session.execute(stmt)).scalar_one_or_none()
    if inserted is not None:
        return Stored(inserted, duplicate=False)
    existing = await session.scalar(
        select(Event.id).where(
            Event.tenant == envelope.tenant,
            Event.source == envelope.source,
            Event.source_event_id == envelope.id,
        )
    )
    assert existing is not None  # the conflict proves the row exists
    return Stored(existing, duplicate=True)


async def store_rejected(
    session: AsyncSession, raw: bytes, headers: dict[str, Any], reason: str
) -> str:
    event = Event(
        id=new_uuid(),
        raw=raw,
        headers=_jsonable(headers),
        status=EventStatus.REJECTED.value,
        error=reason,
        received_at=utcnow(),
    )
    session.add(event)
    await session.flush()
    return event.id


def _jsonable(headers: dict[str, Any]) -> dict[str, Any]:
    """AMQP headers may hold bytes or datetimes; keep a readable, JSON-safe copy."""
    out: dict[str, Any] = {}
    for key, value in headers.items():
        if isinstance(value, bytes):
            out[key] = value.decode("utf-8", "replace")
        elif isinstance(value, str | int | float | bool) or value is None:
            out[key] = value
        else:
            out[key] = str(value)
    return out
