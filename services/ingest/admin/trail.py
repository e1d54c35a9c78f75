"""The processing trail: what an event became — notifications, deliveries, every attempt."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import Delivery, DeliveryAttempt, Escalation, Notification

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


async def attempts_of(
    session: AsyncSession, delivery_ids: Sequence[int]
) -> dict[int, list[DeliveryAttempt]]:
    found: dict[int, list[DeliveryAttempt]] = defaultdict(list)
    if not delivery_ids:
        return found
    rows = await session.scalars(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.delivery_id.in_(delivery_ids))
        .order_by(DeliveryAttempt.id)
    )
    for row in rows:
        found[row.delivery_id].append(row)
    return found


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
    found: dict[int, list[Escalation]] = defaultdict(list)
    if not ids:
        return found
    rows = await session.scalars(
        select(Escalation)
        .where(Escalation.notification_id.in_(ids))
        .order_by(Escalation.notification_id, Escalation.step)
    )
    for row in rows:
        found[row.notification_id].append(row)
    return found


async def event_trail(session: AsyncSession, event_id: str) -> list[NotificationTrail]:
    notifications = await session.scalars(
        select(Notification)
        .where(Notification.event_id == event_id)
        .order_by(Notification.id)
        .limit(MAX_TRAIL_NOTIFICATIONS)
    )
    return await trails_for(session, list(notifications))
