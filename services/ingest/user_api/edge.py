"""What the handlers share: the transaction they own, the mediator, and the after-commit
counter push."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from libs.common.auth import Principal
from libs.common.counts_push import publish_counts
from libs.common.db.engine import transaction
from libs.common.mediator_client import MediatorClient
from libs.common.schemas.inbox import UnreadCounts
from libs.common.unread import unread_counts


@asynccontextmanager
async def tx(request: Request) -> AsyncIterator[AsyncSession]:
    """The handler is the edge: it commits on success and rolls back on any error."""
    async with transaction(request.app.state.resources.sessions) as session:
        yield session


@asynccontextmanager
async def reader(request: Request) -> AsyncIterator[AsyncConnection]:
    """A single-statement read needs no transaction: autocommit saves the BEGIN and COMMIT
    round trips (2 of the 4 an inbox page would cost, the other two being ping and query)."""
    async with request.app.state.resources.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        yield conn


def mediator(request: Request) -> MediatorClient:
    client: MediatorClient = request.app.state.mediator
    return client


async def push_counts(request: Request, user: Principal, counts: UnreadCounts) -> None:
    """Tell the user's other tabs (through the websocket gateways) after the commit; best
    effort (libs/common/counts_push.py): the caller has the counts in its response."""
    await publish_counts(request.app.state.resources.bus, user.tenant, user.user_id, counts)


async def push_fresh_counts(request: Request, user: Principal) -> None:
    """The counters read now, pushed: after a re-check recorded a denial."""
    async with reader(request) as db:
        counts = await unread_counts(db, user.tenant, user.user_id)
    await push_counts(request, user, counts)
