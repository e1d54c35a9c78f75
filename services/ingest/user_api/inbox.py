"""GET /v1/inbox, /v1/inbox/counts and the read / unread / archive state changes.

Only items the user may read are shown: each page, and each item a state change touches, is
re-checked with the mediator first (``recheck.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from libs.common.db.models import Notification
from libs.common.schemas.envelope import IDENT_PATTERN
from libs.common.schemas.inbox import UnreadCounts
from libs.common.schemas.storable import StorableDatetime
from services.ingest.auth_deps import CurrentUser
from services.ingest.deps import AfterCommit, AfterCommitActions, Session
from services.ingest.errors import error_responses
from services.ingest.user_api import queries as q
from services.ingest.user_api import recheck
from services.ingest.user_api.edge import Inbox, InboxEdge
from services.ingest.user_api.schemas import (
    DEFAULT_PAGE,
    MAX_PAGE,
    InboxPage,
    MarkResult,
    ReadAllRequest,
    ReadAllResult,
    RowId,
)

router = APIRouter(prefix="/v1/inbox", tags=["inbox"], responses=error_responses(401, 422, 503))
_LIST = (
    "Only items the user may read now: the page is re-checked with the permissions mediator, "
    "and an item no longer allowed is left out (for good). A page may hold fewer than `limit` "
    "items while `next_cursor` is set; 503 when the mediator cannot answer."
)


@router.get("", summary="The user's notifications, newest first, by cursor", description=_LIST)
async def list_inbox(
    user: CurrentUser,
    edge: Inbox,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
    cursor: Annotated[str | None, Query(max_length=64, description="next_cursor")] = None,
    unread: Annotated[bool | None, Query(description="true: unread only; false: read")] = None,
    archived: Annotated[bool, Query(description="true: the archive instead")] = False,
    source: Annotated[str | None, Query(pattern=IDENT_PATTERN, examples=["tenders"])] = None,
    since: Annotated[StorableDatetime | None, Query(description="created at or after")] = None,
) -> InboxPage:
    f = q.InboxFilter(unread=unread, archived=archived, source=source, since=since)
    async with edge.reader() as db:
        page = await recheck.visible_page(db, edge.mediator, user, f, limit, cursor)
    if page.denied:
        await edge.push_fresh_counts(user)
    return InboxPage(items=page.items, next_cursor=page.next_cursor)


@router.get("/counts", summary="Unread (and not archived) items: total and per module")
async def counts(user: CurrentUser, edge: Inbox) -> UnreadCounts:
    async with edge.reader() as db:
        return await q.unread_counts(db, user)


async def _still_visible(edge: Inbox, user: CurrentUser, item_id: int) -> None:
    """404 unless the user may still read the item (a denial found is recorded at once)."""
    async with edge.reader() as db:
        still = await recheck.visible_item(db, edge.mediator, user, item_id)
    if still.denied:
        await edge.push_fresh_counts(user)
    if not still.shown:
        raise q.not_found(item_id)


@dataclass(frozen=True)
class _Marking:
    """What a state change needs: the re-check's reader and the request's transaction."""

    edge: InboxEdge
    session: AsyncSession
    after: AfterCommitActions


async def _marking(edge: Inbox, session: Session, after: AfterCommit) -> _Marking:
    return _Marking(edge, session, after)


Marking = Annotated[_Marking, Depends(_marking)]


async def _mark(
    m: _Marking,
    user: CurrentUser,
    item_id: int,
    column: InstrumentedAttribute[datetime | None],
    on: bool,
) -> MarkResult:
    await _still_visible(m.edge, user, item_id)
    item, changed = await q.set_state(m.session, user, item_id, column, on)
    counts = await q.unread_counts(m.session, user)
    if changed:  # after the commit, as the answer says
        m.after.append(partial(m.edge.push_counts, user, counts))
    return MarkResult(item=item, changed=changed, counts=counts)


_NOT_FOUND = error_responses(404)


@router.post("/{item_id}/read", summary="Mark one item read (idempotent)", responses=_NOT_FOUND)
async def mark_read(user: CurrentUser, item_id: RowId, m: Marking) -> MarkResult:
    return await _mark(m, user, item_id, Notification.read_at, True)


@router.post("/{item_id}/unread", summary="Mark one item unread (idempotent)", responses=_NOT_FOUND)
async def mark_unread(user: CurrentUser, item_id: RowId, m: Marking) -> MarkResult:
    return await _mark(m, user, item_id, Notification.read_at, False)


@router.post(
    "/{item_id}/archive", summary="Move one item to the archive (idempotent)", responses=_NOT_FOUND
)
async def archive(user: CurrentUser, item_id: RowId, m: Marking) -> MarkResult:
    return await _mark(m, user, item_id, Notification.archived_at, True)


@router.post(
    "/{item_id}/unarchive", summary="Bring one item back from the archive", responses=_NOT_FOUND
)
async def unarchive(user: CurrentUser, item_id: RowId, m: Marking) -> MarkResult:
    return await _mark(m, user, item_id, Notification.archived_at, False)


@router.post("/read-all", summary="Mark every unread item read, optionally one module's")
async def read_all(
    user: CurrentUser, m: Marking, body: ReadAllRequest | None = None
) -> ReadAllResult:
    body = body or ReadAllRequest()
    updated = await q.read_all(m.session, user, body.source, body.up_to_id)
    counts = await q.unread_counts(m.session, user)
    if updated:  # after the commit, as the answer says
        m.after.append(partial(m.edge.push_counts, user, counts))
    return ReadAllResult(updated=updated, counts=counts)
