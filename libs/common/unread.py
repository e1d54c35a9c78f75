"""The unread counters of one person's inbox: one query for the user API, the sender's browser
push and the websocket gateway's resume, so the bell shows the same figure whichever answered."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from libs.common.db.models import Notification
from libs.common.schemas.inbox import UnreadCounts


async def unread_counts(
    session: AsyncSession | AsyncConnection, tenant: str, user_id: str
) -> UnreadCounts:
    """Unread and not archived, per source: one GROUP BY over exactly the predicate of the
    partial index ix_notifications_unread."""
    rows = await session.execute(
        select(Notification.source, func.count())
        .where(
            Notification.tenant == tenant,
            Notification.user_id == user_id,
            Notification.read_at.is_(None),
            Notification.archived_at.is_(None),
        )
        .group_by(Notification.source)
    )
    by_source = {str(source): int(n) for source, n in rows.all()}
    return UnreadCounts(total=sum(by_source.values()), by_source=by_source)
