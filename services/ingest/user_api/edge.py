"""What the inbox handlers share besides the request's transaction (``deps.Session``): the
autocommit reader, the mediator, and the counter push to the user's other tabs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from libs.common.bus import Bus
from libs.common.clients.mediator_client import MediatorClient
from libs.common.inbox.counts_push import publish_counts
from libs.common.inbox.unread import unread_counts
from libs.common.schemas.inbox import UnreadCounts
from libs.common.security.auth import Principal
from services.ingest.deps import Engine, Mediator, MessageBus


@dataclass(frozen=True)
class InboxEdge:
    engine: AsyncEngine
    mediator: MediatorClient
    bus: Bus

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[AsyncConnection]:
        """A single-statement read needs no transaction: autocommit saves the BEGIN and COMMIT
        round trips (2 of the 4 an inbox page would cost, the other two being ping and query)."""
        async with self.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn

    async def push_counts(self, user: Principal, counts: UnreadCounts) -> None:
        """Tell the user's other tabs (through the websocket gateways) after the commit; best
        effort (libs/common/inbox/counts_push.py): the caller has the counts in its response."""
        await publish_counts(self.bus, user.tenant, user.user_id, counts)

    async def push_fresh_counts(self, user: Principal) -> None:
        """The counters read now, pushed: after a re-check recorded a denial."""
        async with self.reader() as db:
            counts = await unread_counts(db, user.tenant, user.user_id)
        await self.push_counts(user, counts)


async def _inbox_edge(engine: Engine, mediator: Mediator, bus: MessageBus) -> InboxEdge:
    return InboxEdge(engine, mediator, bus)


Inbox = Annotated[InboxEdge, Depends(_inbox_edge)]
