"""Inbox queries and state changes, every one scoped to (tenant, user); flush only.

Only visible items exist here (``access = 'allowed'``, libs/common/inbox/access.py): an item not
checked yet, or denied, is listed, counted and changed nowhere, exactly like a missing one.

State changes are idempotent guarded updates (``SET read_at = now WHERE read_at IS NULL``):
two concurrent "mark read" calls change the row once, and the second reports ``changed =
false``. Counters are computed from the rows themselves, so there is no counter to drift or go
negative, and the partial index ``ix_notifications_unread`` keeps that an index-only scan.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from libs.common.db.models import Notification as N
from libs.common.db.models import utcnow
from libs.common.delivery.escalation import stop_chains
from libs.common.inbox.access import visible
from libs.common.inbox.unread import unread_counts as counts_of
from libs.common.schemas.inbox import InboxItem, UnreadCounts
from libs.common.security.auth import Principal
from services.ingest.errors import ApiError
from services.ingest.user_api.schemas import MAX_ID

Db = AsyncSession | AsyncConnection  # reads also run on an autocommit connection
CURSOR_PREFIX = "v1:"
ITEM_COLUMNS = [getattr(N, name) for name in InboxItem.model_fields]


@dataclass(frozen=True)
class InboxFilter:
    unread: bool | None = None  # True: only unread, False: only read, None: both
    archived: bool = False  # the archive is its own view
    source: str | None = None
    since: datetime | None = None


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The id the next page starts below; 422 for anything we did not issue."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if raw.startswith(CURSOR_PREFIX):
            value = int(raw.removeprefix(CURSOR_PREFIX))
            if 0 < value <= MAX_ID:
                return value
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise ApiError(422, "invalid cursor: pass back next_cursor exactly as received")


def _mine(user: Principal) -> list[ColumnElement[bool]]:
    return [N.tenant == user.tenant, N.user_id == user.user_id, visible()]


def _filters(f: InboxFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [
        N.archived_at.is_not(None) if f.archived else N.archived_at.is_(None)
    ]
    if f.unread is not None:
        where.append(N.read_at.is_(None) if f.unread else N.read_at.is_not(None))
    if f.source is not None:
        where.append(N.source == f.source)
    if f.since is not None:  # a time without a zone means UTC, on PostgreSQL and SQLite alike
        since = f.since if f.since.tzinfo else f.since.replace(tzinfo=UTC)
        where.append(N.created_at >= since)
    return where


def _item(row: Any) -> InboxItem:
    return InboxItem.model_validate(dict(row._mapping))


async def fetch_page(
    session: Db, user: Principal, f: InboxFilter, limit: int, below: int | None
) -> tuple[list[InboxItem], bool]:
    """Up to ``limit`` items with ids below ``below``, newest first, and whether older ones
    exist. A cursor is "ids below N", so rows inserted while a client pages (always with
    higher ids) can neither shift nor repeat what it has not seen yet."""
    query = select(*ITEM_COLUMNS).where(*_mine(user), *_filters(f))
    if below is not None:
        query = query.where(N.id < below)
    rows = (await session.execute(query.order_by(N.id.desc()).limit(limit + 1))).all()
    return [_item(r) for r in rows[:limit]], len(rows) > limit


async def unread_counts(session: Db, user: Principal) -> UnreadCounts:
    """Unread and not archived, per source: exactly the predicate of ix_notifications_unread."""
    return await counts_of(session, user.tenant, user.user_id)


async def get_item(session: Db, user: Principal, item_id: int) -> InboxItem:
    row = (
        await session.execute(select(*ITEM_COLUMNS).where(*_mine(user), N.id == item_id))
    ).first()
    if row is None:  # another user's item is indistinguishable from a missing one
        raise not_found(item_id)
    return _item(row)


def not_found(item_id: int) -> ApiError:
    """Missing, another user's, hidden or denied: one answer, so nobody learns what exists."""
    return ApiError(404, f"notification {item_id} not found")


async def set_state(
    session: AsyncSession,
    user: Principal,
    item_id: int,
    column: InstrumentedAttribute[datetime | None],
    on: bool,
) -> tuple[InboxItem, bool]:
    """Set (``on``) or clear a timestamp column, only if it is not already so."""
    guard = column.is_(None) if on else column.is_not(None)
    result = await session.execute(
        update(N)
        .where(*_mine(user), N.id == item_id, guard)
        .values({column.key: utcnow() if on else None})
        .execution_options(synchronize_session=False)
    )
    changed = _rowcount(result) == 1
    if changed and on:  # read or archived: its escalation chain ends here
        await stop_chains(session, [item_id], f"stopped: {_WHY[column.key]} by the user")
    return await get_item(session, user, item_id), changed


_WHY = {"read_at": "read", "archived_at": "archived"}


async def read_all(
    session: AsyncSession, user: Principal, source: str | None, up_to_id: int | None
) -> int:
    where: list[ColumnElement[bool]] = [*_mine(user), N.read_at.is_(None)]
    if source is not None:
        where.append(N.source == source)
    if up_to_id is not None:
        where.append(N.id <= up_to_id)
    result = await session.execute(
        update(N)
        .where(*where)
        .values(read_at=utcnow())
        .returning(N.id)
        .execution_options(synchronize_session=False)
    )
    ids = list(result.scalars())
    await stop_chains(session, ids, "stopped: read by the user (read all)")
    return len(ids)


def _rowcount(result: Any) -> int:
    return int(result.rowcount)
