"""Claiming due deliveries with a lease (DESIGN §6): a killed sender loses nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.engine import supports_skip_locked
from libs.common.db.models import Delivery, DeliveryStatus, utcnow


async def claim_due(session: AsyncSession, limit: int, lease_s: float) -> list[Delivery]:
    """PENDING and due, or SENDING with an expired lease → SENDING with a fresh lease."""
    now = utcnow()
    due = (
        select(Delivery.id)
        .where(
            or_(
                (Delivery.status == DeliveryStatus.PENDING.value)
                & (Delivery.next_attempt_at <= now),
                (Delivery.status == DeliveryStatus.SENDING.value) & (Delivery.locked_until < now),
            )
        )
        .order_by(Delivery.next_attempt_at)
        .limit(limit)
    )
    if supports_skip_locked(session):
        due = due.with_for_update(skip_locked=True)
    ids = list(await session.scalars(due))
    if not ids:
        return []
    await session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids))
        .values(
            status=DeliveryStatus.SENDING.value,
            locked_until=now + timedelta(seconds=lease_s),
            attempts=Delivery.attempts + 1,
        )
    )
    rows = await session.scalars(select(Delivery).where(Delivery.id.in_(ids)))
    return list(rows)
