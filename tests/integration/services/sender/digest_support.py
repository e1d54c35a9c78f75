"""Digest test helpers: waiting items as the processor leaves them, schedules, and reading
back what was built."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.clients.mediator_client import MediatorClient
from libs.common.db.models import (
    Delivery,
    DeliveryStatus,
    Digest,
    DigestSchedule,
    Event,
    Notification,
    Recipient,
)
from libs.common.delivery.digest_schedule import next_run_after
from services.sender.digests.scheduler import DigestScheduler
from services.sender.digests.settings import DigestSettings
from tests.integration.services.sender.support import mediator

Sessions = async_sessionmaker[AsyncSession]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, sec, tzinfo=UTC)


def scheduler(
    sessions: Sessions, client: MediatorClient | None = None, **over: Any
) -> DigestScheduler:
    settings = DigestSettings(**{"digest_workers": 1, "digest_batch": 50, **over})
    return DigestScheduler(sessions, None, client or mediator(), settings)


async def add_user(
    sessions: Sessions, user: str, *, locale: str = "en", timezone: str = "Europe/Moscow"
) -> None:
    async with sessions() as s, s.begin():
        s.add(
            Recipient(
                tenant="default",
                user_id=user,
                email=f"{user}@example.com",
                locale=locale,
                timezone=timezone,
                roles=[],
                attributes={},
            )
        )


async def add_waiting(
    sessions: Sessions,
    user: str,
    created_at: datetime,
    *,
    source: str = "tenders",
    entity_id: str = "T-1",
    title: str | None = None,
    channel: str = "email",
    tenant: str = "default",
) -> int:
    """One DIGEST delivery (with its event and notification), as the processor makes it."""
    async with sessions() as s, s.begin():
        return await _waiting(s, user, created_at, source, entity_id, title, channel, tenant)


async def add_waiting_for(sessions: Sessions, users: list[str], created_at: datetime) -> list[int]:
    """One waiting item for each user, in one transaction."""
    async with sessions() as s, s.begin():
        return [
            await _waiting(s, u, created_at, "tenders", "T-1", None, "email", "default")
            for u in users
        ]


async def _waiting(
    s: AsyncSession,
    user: str,
    created_at: datetime,
    source: str,
    entity_id: str,
    title: str | None,
    channel: str,
    tenant: str,
) -> int:
    event = Event(tenant=tenant, source=source, type="item.updated", status="processed")
    s.add(event)
    await s.flush()
    note = Notification(
        tenant=tenant,
        event_id=event.id,
        user_id=user,
        reason="direct:assignee",
        source=source,
        type="item.updated",
        entity_type="item",
        entity_id=entity_id,
        project_id="P-1",
        title=title or f"{entity_id} changed {uuid.uuid4().hex[:4]}",
        body="",
        created_at=created_at,
    )
    s.add(note)
    await s.flush()
    d = Delivery(
        notification_id=note.id,
        tenant=tenant,
        user_id=user,
        source=source,
        channel=channel,
        status=DeliveryStatus.DIGEST.value,
        reason="direct:assignee",
        subject=f"[{source}] {entity_id}",
        body="...",
        created_at=created_at,
    )
    s.add(d)
    await s.flush()
    return d.id


async def add_schedule(
    sessions: Sessions,
    user: str,
    *,
    window_start: datetime,
    days: list[int] | None = None,
    at: str = "09:00",
    zone: str = "Europe/Moscow",
    channel: str = "email",
    tenant: str = "default",
) -> datetime:
    days = list(range(7)) if days is None else days
    first = next_run_after(window_start, days, at, zone)
    async with sessions() as s, s.begin():
        s.add(
            DigestSchedule(
                tenant=tenant,
                user_id=user,
                channel=channel,
                days_of_week=days,
                time_of_day=at,
                timezone=zone,
                enabled=True,
                window_start=window_start,
                next_run_at=first,
            )
        )
    assert first is not None
    return first


@dataclass
class Built:
    digest: Digest
    delivery: Delivery
    item_ids: list[int]


async def digests(sessions: Sessions, user: str | None = None) -> list[Built]:
    async with sessions() as s:
        q = select(Digest).order_by(Digest.window_end)
        if user is not None:
            q = q.where(Digest.user_id == user)
        out = []
        for d in await s.scalars(q):
            own = await s.get(Delivery, d.delivery_id)
            assert own is not None
            items = await s.scalars(
                select(Delivery.id)
                .where(Delivery.digest_id == d.id, Delivery.notification_id.is_not(None))
                .order_by(Delivery.id)
            )
            out.append(Built(d, own, list(items)))
        return out


async def statuses(sessions: Sessions, ids: list[int]) -> list[str]:
    async with sessions() as s:
        rows = dict((await s.execute(select(Delivery.id, Delivery.status))).all())
    return [rows[i] for i in ids]


async def schedule_of(sessions: Sessions, user: str, channel: str = "email") -> DigestSchedule:
    async with sessions() as s:
        row = await s.get(DigestSchedule, ("default", user, channel))
        assert row is not None
        return row


async def count(sessions: Sessions, model: Any) -> int:
    async with sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


def each_in_exactly_one(built: list[Built], ids: list[int]) -> bool:
    seen = [i for b in built for i in b.item_ids]
    return sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
