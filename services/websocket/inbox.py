"""Reads from the inbox for welcome and replays: the user's cursor, the visible notifications
after a cursor (libs/common/inbox/inbox_cursor.py), and unread counters
(libs/common/inbox/unread.py, the same query as the user API's)."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import Notification
from libs.common.inbox.inbox_cursor import ALLOWED, current_seq
from libs.common.inbox.unread import unread_counts as counts_of
from libs.common.schemas.inbox import InboxItem, UnreadCounts

Numbered = tuple[int, InboxItem]  # (cursor value, item)


def _visible(tenant: str, user_id: str) -> Select[Notification]:
    """Shown in the inbox (DESIGN §13: allowed only) and not archived (the user already dealt
    with it elsewhere)."""
    return select(Notification).where(
        Notification.tenant == tenant,
        Notification.user_id == user_id,
        Notification.access == ALLOWED,
        Notification.user_seq.is_not(None),
        Notification.archived_at.is_(None),
    )


async def after(
    sessions: async_sessionmaker[AsyncSession], tenant: str, user_id: str, seq: int, limit: int
) -> list[Numbered]:
    """The next page after cursor value ``seq``, oldest first (index ix_notifications_user_seq)."""
    query = (
        _visible(tenant, user_id)
        .where(Notification.user_seq > seq)
        .order_by(Notification.user_seq)
        .limit(limit)
    )
    async with sessions() as session:
        rows = (await session.scalars(query)).all()
    return [(int(row.user_seq or 0), InboxItem.model_validate(row)) for row in rows]


async def after_id(
    sessions: async_sessionmaker[AsyncSession],
    tenant: str,
    user_id: str,
    last_id: int,
    up_to_seq: int,
    limit: int,
) -> list[Numbered]:
    """Deprecated ``last_id`` resume: ids after ``last_id`` that this connection has not
    delivered live (cursor value ≤ what welcome carried), in id order."""
    query = (
        _visible(tenant, user_id)
        .where(Notification.id > last_id, Notification.user_seq <= up_to_seq)
        .order_by(Notification.id)
        .limit(limit)
    )
    async with sessions() as session:
        rows = (await session.scalars(query)).all()
    return [(int(row.user_seq or 0), InboxItem.model_validate(row)) for row in rows]


async def position(sessions: async_sessionmaker[AsyncSession], tenant: str, user_id: str) -> int:
    async with sessions() as session:
        return await current_seq(session, tenant, user_id)


async def unread_counts(
    sessions: async_sessionmaker[AsyncSession], tenant: str, user_id: str
) -> UnreadCounts:
    async with sessions() as session:
        return await counts_of(session, tenant, user_id)
