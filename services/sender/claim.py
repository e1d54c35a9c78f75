"""Claiming due deliveries with a lease (DESIGN §6): a killed sender loses nothing.

The claim is its own committed transaction, before any I/O: the rows say SENDING with a lease
(``locked_until``) and ``attempts`` already counts this attempt. A sender that dies leaves the
lease to expire; the next claim takes the row again. A row whose lease expired
``max_attempts`` times (a message that kills its sender) is failed rather than retried forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Notification,
    Recipient,
    utcnow,
)

PENDING, SENDING = DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value


@dataclass(frozen=True)
class Claimed:
    """A claimed delivery with what sending needs: the message, the address, the object."""

    id: int
    attempts: int  # including this one; outcomes are guarded by it
    tenant: str
    user_id: str
    source: str
    channel: str
    subject: str
    body: str
    body_html: str | None
    notification_id: int | None  # None for a digest's own delivery
    project_id: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    email: str | None = None
    telegram_chat_id: str | None = None
    access: str | None = None  # the notification's (libs/common/inbox/access.py): None = unchecked
    phone: str | None = None
    attributes: dict[str, Any] | None = None  # where a plugin channel's address may live


async def claim_due(
    session: AsyncSession,
    limit: int,
    lease_s: float,
    max_attempts: int,
    skip_channels: frozenset[str] = frozenset(),
) -> list[Claimed]:
    """SENDING rows with an expired lease, then due PENDING rows → SENDING with a fresh lease.
    Expired leases first: a steady backlog must not starve a dead sender's rows. PENDING rows
    of ``skip_channels`` (an open circuit breaker) stay where they are."""
    now = utcnow()
    expired = await _lock_expired(session, now, limit)
    exhausted = [i for i, attempts in expired if attempts >= max_attempts]
    if exhausted:
        await _fail_exhausted(session, exhausted, max_attempts)
    ids = [i for i, attempts in expired if attempts < max_attempts]
    if len(ids) < limit:
        ids += await _lock_pending(session, now, limit - len(ids), skip_channels)
    if not ids:
        return []
    await session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids))
        .values(
            status=SENDING,
            locked_until=now + timedelta(seconds=lease_s),
            attempts=Delivery.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    )
    return await load_claimed(session, ids)


def _due_pending(now: datetime) -> list[ColumnElement[bool]]:
    return [Delivery.status == PENDING, Delivery.next_attempt_at <= now]


async def _lock_pending(
    session: AsyncSession, now: datetime, limit: int, skip_channels: frozenset[str]
) -> list[int]:
    query = select(Delivery.id).where(*_due_pending(now))
    if skip_channels:
        query = query.where(Delivery.channel.not_in(sorted(skip_channels)))
    # a second sender skips these rows instead of waiting for them or taking them too (SQLite
    # renders no FOR UPDATE: its one writer at a time needs none)
    query = query.order_by(Delivery.next_attempt_at).limit(limit).with_for_update(skip_locked=True)
    return list(await session.scalars(query))


async def _lock_expired(session: AsyncSession, now: datetime, limit: int) -> list[tuple[int, int]]:
    """(id, attempts) of SENDING rows whose lease ran out (their sender died or hung)."""
    query = select(Delivery.id, Delivery.attempts).where(
        Delivery.status == SENDING, Delivery.locked_until < now
    )
    query = query.order_by(Delivery.id).limit(limit).with_for_update(skip_locked=True)
    return [(i, n) for i, n in (await session.execute(query)).all()]


async def _fail_exhausted(session: AsyncSession, stale: list[int], max_attempts: int) -> None:
    error = f"lease expired on the last of {max_attempts} attempts (sender died mid-send?)"
    await session.execute(
        update(Delivery)
        .where(Delivery.id.in_(stale))
        .values(status=DeliveryStatus.FAILED.value, locked_until=None, last_error=error)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        insert(DeliveryAttempt),
        [
            {"delivery_id": i, "attempt": max_attempts, "outcome": "failed", "error": error}
            for i in stale
        ],
    )


async def load_claimed(session: AsyncSession, ids: list[int]) -> list[Claimed]:
    """One query: the delivery, its notification's object, and the user's addresses."""
    query = (
        select(
            Delivery,
            Notification.project_id,
            Notification.entity_type,
            Notification.entity_id,
            Recipient.email,
            Recipient.telegram_chat_id,
            Notification.access,
            Recipient.phone,
            Recipient.attributes,
        )
        .outerjoin(Notification, Notification.id == Delivery.notification_id)
        .outerjoin(
            Recipient,
            and_(Recipient.tenant == Delivery.tenant, Recipient.user_id == Delivery.user_id),
        )
        .where(Delivery.id.in_(ids))
        .order_by(Delivery.id)
        .execution_options(populate_existing=True)
    )
    rows = (await session.execute(query)).all()
    return [_claimed(*row) for row in rows]


def _claimed(
    d: Delivery,
    project_id: str | None,
    entity_type: str | None,
    entity_id: str | None,
    email: str | None,
    chat: str | None,
    access: str | None,
    phone: str | None,
    attributes: dict[str, Any] | None,
) -> Claimed:
    return Claimed(
        d.id, d.attempts, d.tenant, d.user_id, d.source, d.channel, d.subject, d.body,
        d.body_html, d.notification_id, project_id, entity_type, entity_id, email, chat, access,
        phone, attributes,
    )  # fmt: skip


async def due_depth(session: AsyncSession) -> int:
    """Deliveries due now and not yet claimed (the queue-depth gauge)."""
    query = select(func.count()).select_from(Delivery).where(*_due_pending(utcnow()))
    return int(await session.scalar(query) or 0)
