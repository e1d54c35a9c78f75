"""What the handlers share: the transaction they own, and the after-commit counter push."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from libs.common.auth import Principal
from libs.common.bus.topology import BROWSER_EXCHANGE
from libs.common.db.engine import transaction
from libs.common.logging import get_logger
from libs.common.schemas.inbox import BrowserPush, UnreadCounts

log = get_logger(__name__)


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


async def push_counts(request: Request, user: Principal, counts: UnreadCounts) -> None:
    """Tell the user's other tabs (through the websocket gateways) after the commit.

    Best effort: the change is committed and the caller has the counts in its response; a
    broker hiccup must not turn a successful "mark read" into an error. Other tabs catch up
    on their next counts push or reconnect.
    """
    push = BrowserPush(kind="counts", tenant=user.tenant, user_id=user.user_id, counts=counts)
    try:
        await request.app.state.resources.bus.publish(
            BROWSER_EXCHANGE, "", push.model_dump_json().encode()
        )
    except Exception as exc:  # the broker is optional for this path, see above
        log.warning("counts push failed", user_id=user.user_id, error=repr(exc)[:300])
