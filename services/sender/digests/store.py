"""Writing a batch of built digests — flush only, in the scheduler's transaction.

Round trips matter more than anything else here (a batch is 200 digests and 4,000 items):
each step is one statement for the whole batch (writes.py: set-based on PostgreSQL,
executemany on SQLite).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import Delivery, DeliveryRow, DeliveryStatus, Digest, DigestSchedule
from libs.common.templating.templates import Rendered
from services.sender.digests.collect import Item
from services.sender.digests.writes import Advance, digest_writes

DIGEST_SOURCE = "herald"  # deliveries.source of a digest's own delivery


class DigestRow(TypedDict):
    tenant: str
    user_id: str
    channel: str
    window_start: datetime
    window_end: datetime
    status: str
    item_count: int
    delivery_id: int
    created_at: datetime


class ItemsChanged(RuntimeError):
    """A waiting item changed under a locked schedule: roll back, retry on the next tick."""


@dataclass
class Plan:
    schedule: DigestSchedule
    window_start: datetime  # taken before the schedule advances
    window_end: datetime
    items: list[Item]
    rendered: Rendered


async def store_digests(session: AsyncSession, plans: list[Plan], now: datetime) -> list[int]:
    """Each digest's delivery, then the digest pointing at it, then the items it took."""
    delivery_ids = list(
        await session.scalars(
            insert(Delivery).returning(Delivery.id, sort_by_parameter_order=True),
            [_delivery_row(p, now) for p in plans],
        )
    )
    digest_ids = list(
        await session.scalars(
            insert(Digest).returning(Digest.id, sort_by_parameter_order=True),
            [_digest_row(p, d, now) for p, d in zip(plans, delivery_ids, strict=True)],
        )
    )
    await _mark_digested(session, plans, digest_ids)
    return delivery_ids


async def _mark_digested(session: AsyncSession, plans: list[Plan], digest_ids: list[int]) -> None:
    taken = {d: [i.delivery_id for i in p.items] for p, d in zip(plans, digest_ids, strict=True)}
    marked = await digest_writes(session).mark_digested(session, taken)
    expected = sum(len(p.items) for p in plans)
    if marked != expected:
        raise ItemsChanged(f"{expected - marked} waiting items changed under the build")


def _digest_row(p: Plan, delivery_id: int, now: datetime) -> DigestRow:
    s = p.schedule
    return {
        "tenant": s.tenant,
        "user_id": s.user_id,
        "channel": s.channel,
        "window_start": p.window_start,
        "window_end": p.window_end,
        "status": "built",
        "item_count": len(p.items),
        "delivery_id": delivery_id,
        "created_at": now,
    }


def _delivery_row(p: Plan, now: datetime) -> DeliveryRow:
    s, r = p.schedule, p.rendered
    return {
        "notification_id": None,
        "tenant": s.tenant,
        "user_id": s.user_id,
        "source": DIGEST_SOURCE,
        "channel": s.channel,
        "status": DeliveryStatus.PENDING.value,
        "reason": "digest",
        "subject": r.subject,
        "body": r.body,
        "body_html": r.body_html,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


async def advance(session: AsyncSession, rows: list[Advance]) -> None:
    if rows:
        await digest_writes(session).advance(session, rows)
