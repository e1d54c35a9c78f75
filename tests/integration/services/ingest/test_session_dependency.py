"""The request's transaction (``services/ingest/deps.py``) through real requests on the real
ingest app: committed before the answer is sent, rolled back when the handler raises, and
what was queued after the commit runs only after a commit that happened."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import Recipient
from services.ingest.app import create_app
from services.ingest.deps import AfterCommit, Session
from services.ingest.errors import ApiError
from tests.apps import ingest_settings


async def stored(sessions: async_sessionmaker[AsyncSession], user_id: str) -> bool:
    async with sessions() as session:
        found = await session.scalar(select(Recipient.user_id).where(Recipient.user_id == user_id))
    return found is not None


def probe_router(sessions: async_sessionmaker[AsyncSession], seen: list[str]) -> APIRouter:
    router = APIRouter(prefix="/probe")

    def after(user_id: str) -> AfterCommit:
        async def check() -> None:  # on another connection: the row is committed already
            seen.append(f"{user_id}:{'committed' if await stored(sessions, user_id) else 'not'}")

        return [check]

    @router.post("/{user_id}")
    async def write(user_id: str, session: Session, actions: AfterCommit) -> dict[str, str]:
        session.add(Recipient(tenant="default", user_id=user_id))
        await session.flush()
        actions += after(user_id)
        return {"user_id": user_id}

    @router.post("/{user_id}/refused")
    async def write_then_refuse(user_id: str, session: Session, actions: AfterCommit) -> None:
        session.add(Recipient(tenant="default", user_id=user_id))
        await session.flush()
        actions += after(user_id)
        raise ApiError(409, "refused after writing")

    @router.post("/{user_id}/again")
    async def clash_at_commit(user_id: str, session: Session, actions: AfterCommit) -> None:
        session.add(Recipient(tenant="default", user_id=user_id))  # flushed by the commit
        actions += after(user_id)

    return router


@pytest.fixture
async def client(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[tuple[httpx.AsyncClient, list[str]]]:
    seen: list[str] = []
    app: FastAPI = create_app(ingest_settings(database_url, "memory://tx-dep"), consume=False)
    app.include_router(probe_router(sessions, seen))
    async with app.router.lifespan_context(app):
        # an error at commit must reach the client as an answer, not as a raised exception
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://herald.test") as http:
            yield http, seen


async def test_success_commits_then_runs_what_was_queued(
    client: tuple[httpx.AsyncClient, list[str]], sessions: async_sessionmaker[AsyncSession]
) -> None:
    http, seen = client
    resp = await http.post("/probe/u-1")
    assert resp.status_code == 200, resp.text
    assert await stored(sessions, "u-1")
    assert seen == ["u-1:committed"]


async def test_an_error_rolls_back_and_runs_nothing_queued(
    client: tuple[httpx.AsyncClient, list[str]], sessions: async_sessionmaker[AsyncSession]
) -> None:
    http, seen = client
    resp = await http.post("/probe/u-2/refused")
    assert resp.status_code == 409
    assert resp.json()["error"]["message"] == "refused after writing"
    assert not await stored(sessions, "u-2")
    assert seen == []


async def test_a_failed_commit_is_the_answer(
    client: tuple[httpx.AsyncClient, list[str]], sessions: async_sessionmaker[AsyncSession]
) -> None:
    http, seen = client
    assert (await http.post("/probe/u-3")).status_code == 200
    seen.clear()
    resp = await http.post("/probe/u-3/again")  # the primary key clashes only at the commit
    assert resp.status_code == 500  # not the 200 the handler returned: commit came first
    assert resp.json()["error"]["code"] == "internal"
    assert seen == []
