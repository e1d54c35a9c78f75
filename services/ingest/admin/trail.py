"""The processing trail: what an event became — notifications, deliveries, every attempt."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import Delivery, DeliveryAttempt, Escalation, Notification

Row = TypeVar("Row", DeliveryAttempt, Escalation)

MAX_TRAIL_NOTIFICATIONS = 500  # an event for a whole department; more is paged in the lists


@dataclass
class DeliveryTrail:
    delivery: Delivery
    attempts: list[DeliveryAttempt] = field(default_factory=list)


@dataclass
class NotificationTrail:
    notification: Notification
    deliveries: list[DeliveryTrail] = field(default_factory=list)
    escalations: list[Escalation] = field(default_factory=list)  # its chain's steps, in order


async def _grouped(
    session: AsyncSession, ids: Sequence[int], query: Select[Row], key: Callable[[Row], int]
) -> dict[int, list[Row]]:
    """The rows ``query`` reads for ``ids``, in its order, grouped by ``key``; no ids, no read."""
    found: dict[int, list[Row]] = defaultdict(list)
    if not ids:
        return found
    for row in await session.scalars(query):
        found[key(row)].append(row)
    return found


async def attempts_of(
    session: AsyncSession, delivery_ids: Sequence[int]
) -> dict[int, list[DeliveryAttempt]]:
    a = DeliveryAttempt
    query = select(a).where(a.delivery_id.in_(delivery_ids)).order_by(a.id)
    return await _grouped(session, delivery_ids, query, lambda row: row.delivery_id)


async def trails_for(
    session: AsyncSession, notifications: Sequence[Notification]
) -> list[NotificationTrail]:
    ids = [n.id for n in notifications]
    deliveries = (
        list(
            await session.scalars(
                select(Delivery).where(Delivery.notification_id.in_(ids)).order_by(Delivery.id)
            )
        )
        if ids
        else []
    )
    attempts = await attempts_of(session, [d.id for d in deliveries])
    by_notification: dict[int, list[DeliveryTrail]] = defaultdict(list)
    for d in deliveries:
        assert d.notification_id is not None
        by_notification[d.notification_id].append(DeliveryTrail(d, attempts.get(d.id, [])))
    steps = await _escalations(session, ids)
    return [
        NotificationTrail(n, by_notification.get(n.id, []), steps.get(n.id, []))
        for n in notifications
    ]


async def _escalations(session: AsyncSession, ids: Sequence[int]) -> dict[int, list[Escalation]]:
    e = Escalation
    query = select(e).where(e.notification_id.in_(ids)).order_by(e.notification_id, e.step)
    return await _grouped(session, ids, query, lambda row: row.notification_id)


async def event_trail(session: AsyncSession, event_id: str) -> list[NotificationTrail]:
    notifications = await session.scalars(
        select(Notification)
        .where(Notification.event_id == event_id)
        .order_by(Notification.id)
        .limit(MAX_TRAIL_NOTIFICATIONS)
    )
    return await trails_for(session, list(notifications))
