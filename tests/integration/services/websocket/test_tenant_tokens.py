"""A token of a tenant that is not registered, or is disabled, never opens a connection and
never refreshes one (DESIGN §15); a registered tenant's token does."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import transaction
from libs.common.tenancy.tenant_store import set_enabled
from services.websocket import protocol
from tests.apps import user_token
from tests.integration.services.websocket.harness import command, gateway, recv_json
from tests.integration.services.websocket.test_auth import _refused


@pytest.fixture
def memory_bus() -> str:
    return f"memory://{uuid.uuid4().hex}"


async def test_tokens_of_unknown_or_disabled_tenants_are_refused_with_4401(
    database_url: str, memory_bus: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with transaction(sessions) as session:
        await set_enabled(session, "beta", False)
    async with gateway(database_url, memory_bus) as gw:
        for tenant in ("nowhere", "beta"):
            for via_message in (False, True):
                closed = await _refused(gw, user_token("u-1", tenant), via_message)
                assert closed.rcvd is not None, tenant
                assert closed.rcvd.code == protocol.CLOSE_UNAUTHORIZED, tenant
                assert tenant in closed.rcvd.reason, closed.rcvd.reason
        assert len(gw.gateway.registry) == 0
        async with gw.connect(user_token("u-1", "acme")) as conn:
            welcome = await recv_json(conn)
            assert (welcome["type"], welcome["tenant"]) == ("welcome", "acme")
            reply = await command(
                conn, {"type": "auth", "id": "r", "token": user_token("u-1", "beta")}
            )
            assert reply["code"] == "unauthorized" and "disabled" in reply["reason"]
