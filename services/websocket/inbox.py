"""Reads from the inbox for ``resume``: the notifications a user missed and unread counters."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import Notification
from libs.common.schemas.inbox import InboxItem, UnreadCounts


async def missed(
    sessions: async_sessionmaker[AsyncSession],
    tenant: str,
    user_id: str,
    after_id: int,
    limit: int,
) -> list[InboxItem]:
    """Notifications with id > ``after_id`` (ids are monotonic), oldest first, archived
    ones left out (the user already dealt with them elsewhere)."""
    query = (
        select(Notification)
        .where(
            Notification.tenant == tenant,
            Notification.user_id == user_id,
            Notification.id > after_id,
            Notification.archived_at.is_(None),
        )
        .order_by(Notification.id)
        .limit(limit)
    )
    async with sessions() as session:
        rows = (await session.scalars(query)).all()
    return [InboxItem.model_validate(row) for row in rows]


async def unread_counts(
    sessions: async_sessionmaker[AsyncSession], tenant: str, user_id: str
) -> UnreadCounts:
    query = (
        select(Notification.source, func.count())
        .where(
            Notification.tenant == tenant,
            Notification.user_id == user_id,
            Notification.read_at.is_(None),
            Notification.archived_at.is_(None),
        )
        .group_by(Notification.source)
    )
    async with sessions() as session:
        rows = (await session.execute(query)).all()
    by_source = {str(source): int(count) for source, count in rows}
    return UnreadCounts(total=sum(by_source.values()), by_source=by_source)
