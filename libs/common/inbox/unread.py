"""The unread counters of one person's inbox: one query for the user API, the sender's browser
push and the websocket gateway's resume, so the bell shows the same figure whichever answered.
Only visible items count (``access = 'allowed'``, libs/common/inbox/access.py)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from libs.common.db.models import Notification
from libs.common.inbox.access import User, visible
from libs.common.schemas.inbox import UnreadCounts


def _unread() -> list[ColumnElement[bool]]:
    """Exactly the predicate of the partial index ix_notifications_unread."""
    return [Notification.read_at.is_(None), Notification.archived_at.is_(None), visible()]


async def unread_counts(
    session: AsyncSession | AsyncConnection, tenant: str, user_id: str
) -> UnreadCounts:
    """Unread, not archived and visible, per source: one GROUP BY over the partial index."""
    rows = await session.execute(
        select(Notification.source, func.count())
        .where(Notification.tenant == tenant, Notification.user_id == user_id, *_unread())
        .group_by(Notification.source)
    )
    by_source = {str(source): int(n) for source, n in rows.all()}
    return UnreadCounts(total=sum(by_source.values()), by_source=by_source)


async def unread_counts_of(
    session: AsyncSession | AsyncConnection, users: Iterable[User]
) -> dict[User, UnreadCounts]:
    """The same counters for several users in one query (a user with none gets zeros)."""
    wanted = sorted(set(users))
    found: dict[User, dict[str, int]] = {user: {} for user in wanted}
    if not wanted:
        return {}
    rows = await session.execute(
        select(Notification.tenant, Notification.user_id, Notification.source, func.count())
        .where(tuple_(Notification.tenant, Notification.user_id).in_(wanted), *_unread())
        .group_by(Notification.tenant, Notification.user_id, Notification.source)
    )
    for tenant, user_id, source, n in rows.all():
        found[(str(tenant), str(user_id))][str(source)] = int(n)
    return {user: UnreadCounts(total=sum(by.values()), by_source=by) for user, by in found.items()}
