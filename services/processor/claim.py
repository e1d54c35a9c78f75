"""Claiming events: lock the rows and re-check they are still ``received`` (DESIGN §5.1).

A second processor, a redelivered nudge or the sweep all end up here and find nothing:
on PostgreSQL the row is locked (``FOR UPDATE SKIP LOCKED``, so nobody waits) and once the
holder commits its status is no longer ``received``. SQLite has no row locks: the claim is
an UPDATE, which takes the database's write lock first, so the status check and everything
after it run under that lock (one writer at a time; correct across processes too).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.engine import supports_skip_locked
from libs.common.db.models import Event, EventStatus, utcnow

ClaimedRow = tuple[str, dict[str, Any], datetime]  # (id, body, received_at)


async def claim_events(session: AsyncSession, event_ids: Sequence[str]) -> list[ClaimedRow]:
    """The events among ``event_ids`` this transaction now owns; the rest are taken or done."""
    if not event_ids:
        return []
    still_received = (Event.id.in_(list(event_ids)), Event.status == EventStatus.RECEIVED.value)
    if supports_skip_locked(session):
        stmt: Any = (
            select(Event.id, Event.body, Event.received_at)
            .where(*still_received)
            .order_by(Event.id)
            .with_for_update(skip_locked=True)
        )
    else:
        stmt = (
            update(Event)
            .where(*still_received)
            .values(attempts=Event.attempts)  # a no-op write: it takes the write lock
            .returning(Event.id, Event.body, Event.received_at)
        )
    rows = (await session.execute(stmt)).all()
    return [(r[0], r[1] or {}, r[2]) for r in rows]


async def mark_processed(session: AsyncSession, event_ids: Sequence[str]) -> None:
    await session.execute(
        update(Event)
        .where(Event.id.in_(list(event_ids)))
        .values(status=EventStatus.PROCESSED.value, processed_at=utcnow(), error=None)
    )


async def stale_event_ids(session: AsyncSession, older_than_s: float, limit: int) -> list[str]:
    """Events left in ``received`` (a lost nudge, a crashed processor, a failed attempt)."""
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    rows = await session.scalars(
        select(Event.id)
        .where(Event.status == EventStatus.RECEIVED.value, Event.received_at <= cutoff)
        .order_by(Event.received_at)
        .limit(limit)
    )
    return list(rows)
