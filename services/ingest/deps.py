"""What ingest's handlers get from the running app, typed: the request's transaction, the
database, the bus, the mediator, the tenant registry, the settings (DESIGN §11).

The lifespan (``app.py``) keeps these on ``app.state``; this module is the one place that
reads it, so a handler names what it uses (``session: Session``) instead of reaching into an
untyped ``request.app.state``.

``Session`` is the edge that owns the commit: one transaction per request, committed when the
handler returns (after its answer is built, before it is sent: ``scope="function"``, so a
client that got 200 reads its own write), rolled back when the handler raises. Work that must
follow the commit (a counter push to the user's other tabs) is queued on ``AfterCommit`` and
runs right after it, still before the answer is sent; after a rollback nothing queued runs.
Handlers and the logic they call only flush.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from libs.common.bus import Bus
from libs.common.clients.mediator_client import MediatorClient
from libs.common.db.engine import transaction
from libs.common.runtime.resources import Resources
from libs.common.security.auth import TokenVerifier
from libs.common.tenancy.tenants import TenantRegistry
from libs.common.web.app_state import from_state
from services.ingest.settings import IngestSettings
from services.ingest.user_api.throttle import Throttle

AppResources = Annotated[Resources, Depends(from_state("resources", Resources))]
Settings = Annotated[IngestSettings, Depends(from_state("settings", IngestSettings))]
Mediator = Annotated[MediatorClient, Depends(from_state("mediator", MediatorClient))]
Tenants = Annotated[TenantRegistry, Depends(from_state("tenants", TenantRegistry))]
Verifier = Annotated[TokenVerifier, Depends(from_state("token_verifier", TokenVerifier))]
PreviewThrottle = Annotated[Throttle, Depends(from_state("preview_throttle", Throttle))]


async def _engine(resources: AppResources) -> AsyncEngine:
    return resources.engine


async def _sessions(resources: AppResources) -> async_sessionmaker[AsyncSession]:
    return resources.sessions


async def _bus(resources: AppResources) -> Bus:
    return resources.bus


Engine = Annotated[AsyncEngine, Depends(_engine)]  # for autocommit reads (user_api/edge.py)
Sessions = Annotated[async_sessionmaker[AsyncSession], Depends(_sessions)]  # own transactions
MessageBus = Annotated[Bus, Depends(_bus)]

AfterCommitActions = list[Callable[[], Awaitable[None]]]


async def _after_commit() -> AfterCommitActions:
    """One list per request (FastAPI caches a dependency within a request): the handler's
    ``AfterCommit`` and the one ``_session`` runs are the same list."""
    return []


AfterCommit = Annotated[AfterCommitActions, Depends(_after_commit)]


async def _session(sessions: Sessions, after: AfterCommit) -> AsyncIterator[AsyncSession]:
    async with transaction(sessions) as session:
        yield session
    for action in after:
        await action()


# scope="function": exits when the handler returns, not after the answer is sent
Session = Annotated[AsyncSession, Depends(_session, scope="function")]
