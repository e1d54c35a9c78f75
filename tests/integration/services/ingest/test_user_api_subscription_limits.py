"""The subscription limits hold on the real path: the per-user cap under concurrent creates
(uvicorn on a real socket, PostgreSQL), and filter values JSON can spell but not store."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import Subscription
from services.ingest.app import create_app
from services.ingest.user_api.subscription_store import MAX_SUBSCRIPTIONS_PER_USER
from tests.apps import ingest_settings
from tests.integration.services.ingest.user_api_data import auth, user_api
from tests.unit.services.acl_mediator.support import serve

PARALLEL_CREATES = 160  # what stored 103 subscriptions before the per-user lock
BOB_CREATES = 5
SUB: dict[str, Any] = {
    "name": "Basement remarks",
    "source": "tenders",
    "entity_type": "tender",
    "filter": [{"field": "section", "op": "eq", "value": "basement"}],
    "channels": ["email"],
}


async def _stored(sessions: async_sessionmaker[AsyncSession], user: str) -> int:
    async with sessions() as session:
        stmt = select(func.count()).select_from(Subscription).where(Subscription.user_id == user)
        return int(await session.scalar(stmt) or 0)


async def test_the_cap_holds_under_concurrent_creates(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    app = create_app(ingest_settings(database_url, f"memory://{uuid.uuid4().hex}"), consume=False)
    limits = httpx.Limits(max_connections=PARALLEL_CREATES + BOB_CREATES)
    async with serve(app) as url, httpx.AsyncClient(base_url=url, limits=limits) as http:

        async def create(user: str) -> int:
            resp = await http.post("/v1/subscriptions", json=SUB, headers=auth(user), timeout=60)
            return resp.status_code

        codes = await asyncio.gather(
            *(create("alice") for _ in range(PARALLEL_CREATES)),
            *(create("bob") for _ in range(BOB_CREATES)),
        )
    alice = Counter(codes[:PARALLEL_CREATES])
    assert alice == {201: MAX_SUBSCRIPTIONS_PER_USER, 409: PARALLEL_CREATES - 100}
    assert codes[PARALLEL_CREATES:] == [201] * BOB_CREATES  # one user's lock is not another's
    assert await _stored(sessions, "alice") == MAX_SUBSCRIPTIONS_PER_USER
    assert await _stored(sessions, "bob") == BOB_CREATES


NOT_FINITE = ["NaN", "Infinity", "-Infinity", "1e400"]  # Python's json reads all four


async def test_nan_and_infinity_in_a_filter_are_422_and_never_stored(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    headers = {**auth("alice"), "Content-Type": "application/json"}
    async with user_api(database_url) as http:
        ok = await http.post("/v1/subscriptions", json=SUB, headers=auth("alice"))
        assert ok.status_code == 201, ok.text
        path = f"/v1/subscriptions/{ok.json()['id']}"
        for literal in NOT_FINITE:
            conditions = [
                f'{{"field": "amount", "op": "gte", "value": {literal}}}',
                f'{{"field": "amount", "op": "in", "value": [1, {literal}]}}',
            ]
            for cond in conditions:
                raw = json.dumps({**SUB, "filter": ["HOLE"]}).replace('"HOLE"', cond)
                scope = {k: SUB[k] for k in ("source", "entity_type")}
                preview = json.dumps({**scope, "filter": ["HOLE"]}).replace('"HOLE"', cond)
                for method, url, body in (
                    ("POST", "/v1/subscriptions", raw),
                    ("PUT", path, raw),
                    ("POST", "/v1/subscriptions/preview", preview),
                ):
                    resp = await http.request(method, url, content=body, headers=headers)
                    assert resp.status_code == 422, (method, url, literal, resp.text)
                    error = resp.json()["error"]
                    assert error["code"] == "invalid_filter", error
                    assert "finite" in error["message"]
        kept = (await http.get(path, headers=auth("alice"))).json()
    assert kept["filter"] == SUB["filter"]  # the refused PUTs changed nothing
    assert await _stored(sessions, "alice") == 1
