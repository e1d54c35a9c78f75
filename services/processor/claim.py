"""Claiming an event: lock the row and re-check it is still ``received`` (DESIGN §5.1)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.engine import supports_skip_locked
from libs.common.db.models import Event, EventStatus, utcnow


async def claim_event(session: AsyncSession, event_id: str) -> Event | None:
    """The locked event if it still needs processing; None when another worker has it or
    it is done. A redelivered nudge, a second processor or the sweep all end up here."""
    stmt = select(Event).where(Event.id == event_id, Event.status == EventStatus.RECEIVED.value)
    if supports_skip_locked(session):
        stmt = stmt.with_for_update(skip_locked=True)
    return (await session.execute(stmt)).scalar_one_or_none()


async def stale_event_ids(session: AsyncSession, older_than_s: float, limit: int) -> list[str]:
    """Events left in ``received`` (a lost nudge, a crashed processor)."""
    cutoff = utcnow() - timedelta(seconds=older_than_s)
    rows = await session.scalars(
        select(Event.id)
        .where(Event.status == EventStatus.RECEIVED.value, Event.received_at <= cutoff)
        .order_by(Event.received_at)
        .limit(limit)
    )
    return list(rows)
