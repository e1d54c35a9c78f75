"""Disabling a tenant closes its open connections (DESIGN §15): within the registry's refresh
interval, with 4403 ("do not retry"), while other tenants' connections stay open and keep
receiving; a ``resume`` asked meanwhile is refused the same way."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from websockets.exceptions import ConnectionClosed

from libs.common.db.engine import transaction
from libs.common.tenancy.tenant_store import set_enabled
from libs.common.tenancy.tenants import REGISTRY_TTL_S
from services.websocket import protocol
from tests.apps import user_token
from tests.integration.services.websocket.harness import gateway, recv_json

COUNTS = {"total": 7, "by_source": {"tenders": 7}}


def _counts(user: str, tenant: str) -> dict[str, Any]:
    return {"kind": "counts", "tenant": tenant, "user_id": user, "counts": COUNTS}


async def _closed_code(conn: Any, within_s: float) -> int | None:
    try:
        async with asyncio.timeout(within_s):
            while True:
                await conn.recv()
    except ConnectionClosed:
        code: int | None = conn.close_code
        return code
    return None


async def test_disabling_a_tenant_closes_its_open_connections_with_4403(
    database_url: str, amqp_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with (
        gateway(database_url, amqp_url) as gw,
        gw.connect(user_token("u-1", "acme")) as acme,
        gw.connect(user_token("u-1", "default")) as other,
    ):
        assert (await recv_json(acme))["type"] == "welcome"
        assert (await recv_json(other))["type"] == "welcome"
        async with transaction(sessions) as session:
            await set_enabled(session, "acme", False)
        disabled_at = time.monotonic()
        code = await _closed_code(acme, REGISTRY_TTL_S * 2 + 5)
        took = time.monotonic() - disabled_at
        assert code == protocol.CLOSE_TENANT_REFUSED, code
        assert acme.close_reason is not None and "disabled" in acme.close_reason
        assert took <= REGISTRY_TTL_S + 2, took
        # the other tenant's connection is untouched and still receives
        await gw.push(_counts("u-1", "default"))
        while (frame := await recv_json(other)) != {"type": "counts", "counts": COUNTS}:
            assert frame["type"] == "counts", frame  # only the welcome's own counters
        assert len(gw.gateway.registry) == 1


async def test_a_resume_after_the_disable_is_refused_and_nothing_replayed(
    database_url: str, amqp_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with gateway(database_url, amqp_url) as gw:
        async with gw.connect(user_token("u-2", "acme")) as acme:
            welcome = await recv_json(acme)
            async with transaction(sessions) as session:
                await set_enabled(session, "acme", False)
            assert gw.gateway.tenant_watch is not None
            gw.gateway.tenant_watch.tenants.invalidate()  # as the next refresh would
            resume = {"type": "resume", "id": uuid.uuid4().hex[:6], "cursor": welcome["cursor"]}
            await acme.send(json.dumps(resume))
            assert await _closed_code(acme, 5) == protocol.CLOSE_TENANT_REFUSED
        # and a new connection with the tenant's token is refused as before
        async with gw.connect(user_token("u-2", "acme")) as again:
            assert await _closed_code(again, 5) == protocol.CLOSE_UNAUTHORIZED
