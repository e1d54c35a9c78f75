"""A reference module backend: what a module team implements for the mediator
(``POST /permissions/check``, docs/permissions.md), with the seed's rule —

    an object's owners may read and write it; their managers (all the way up) may read it
    (a manager follows all events of their employees); nobody else, and never the other way
    round: an employee does not see their manager's objects.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI, Header, HTTPException, status

from libs.common.schemas.permissions import (
    UPSTREAM_CHECK_PATH,
    UpstreamAnswer,
    UpstreamRequest,
    UpstreamResponse,
)
from libs.common.web.health import health_router
from services.acl_mediator.reference_data import Directory, Snapshot

MAX_CHAIN = 32  # management chains are short; a longer one is a cycle in the data


def managers_above(managers: Mapping[str, str], user: str) -> set[str]:
    """Everyone above ``user`` in the management chain (cycles stop the walk)."""
    found: set[str] = set()
    current = managers.get(user)
    while current is not None and current not in found and len(found) < MAX_CHAIN:
        found.add(current)
        current = managers.get(current)
    return found


def decide(snapshot: Snapshot, object_type: str, object_id: str, user: str) -> tuple[bool, bool]:
    """(read, write) for one user and one object."""
    owners = snapshot.owners.get((object_type, object_id), frozenset())
    if user in owners:
        return True, True
    if any(user in managers_above(snapshot.managers, owner) for owner in owners):
        return True, False
    return False, False


async def answer(directory: Directory, request: UpstreamRequest) -> UpstreamResponse:
    refs = {(item.object_type, item.object_id) for item in request.items}
    snapshot = await directory.snapshot(request.tenant, request.module, refs)
    results = []
    for item in request.items:
        read, write = decide(snapshot, item.object_type, item.object_id, item.user_id)
        results.append(UpstreamAnswer(id=item.id, read=read, write=write))
    return UpstreamResponse(results=results)


def create_reference_app(directory: Directory, token: str | None = None) -> FastAPI:
    """``token``: when set, calls must carry ``Authorization: Bearer <token>``."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await directory.close()

    app = FastAPI(title="Herald reference permissions backend", version="1", lifespan=lifespan)
    app.include_router(health_router(lambda: []))

    @app.post(UPSTREAM_CHECK_PATH, response_model=UpstreamResponse)
    async def check(
        body: UpstreamRequest, authorization: str | None = Header(default=None)
    ) -> UpstreamResponse:
        if token is not None and authorization != f"Bearer {token}":
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "wrong or missing token")
        return await answer(directory, body)

    return app
