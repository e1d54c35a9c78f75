"""Reads from the inbox for ``resume``: the notifications a user missed and unread counters
(libs/common/unread.py, the same query as the user API's)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import Notification
from libs.common.schemas.inbox import InboxItem, UnreadCounts
from libs.common.unread import unread_counts as counts_of


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
    async with sessions() as session:
        return await counts_of(session, tenant, user_id)
