"""The tenant registry (DESIGN §15): an event of a tenant that is not registered, or is
disabled, is stored ``rejected`` (``unknown_tenant``) and never processed — over AMQP and HTTP;
a user token of such a tenant gets 401. The registry is cached, not queried per message."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import transaction
from libs.common.db.models import Event, EventStatus
from libs.common.tenancy.tenant_store import set_enabled
from libs.common.tenancy.tenants import TenantRegistry
from services.ingest.app import create_app
from tests.apps import API_KEY, eventually, ingest_settings, running, user_token
from tests.unit.services.ingest.intake_support import (
    count_events,
    declare_ingest_queue,
    make_event,
    publish_raw,
)

KEY = {"X-API-Key": API_KEY}


async def _disable(sessions: async_sessionmaker[AsyncSession], tenant: str) -> None:
    async with transaction(sessions) as session:
        await set_enabled(session, tenant, False)


async def _rows(sessions: async_sessionmaker[AsyncSession]) -> list[Event]:
    async with sessions() as session:
        return list(await session.scalars(select(Event)))


async def test_amqp_events_of_unknown_or_disabled_tenants_are_rejected(
    database_url: str, amqp_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _disable(sessions, "beta")
    await declare_ingest_queue(amqp_url)
    events = {
        "acme": make_event(1, tenant="acme"),
        "default": make_event(2, tenant="default"),
        "nowhere": make_event(3, tenant="nowhere"),
        "beta": make_event(4, tenant="beta"),
    }
    await publish_raw(amqp_url, [json.dumps(e).encode() for e in events.values()])
    async with running(create_app(ingest_settings(database_url, amqp_url))):
        await eventually(lambda: _count_at_least(sessions, len(events)), timeout_s=30)
    rows = await _rows(sessions)
    received = {r.tenant for r in rows if r.status == EventStatus.RECEIVED.value}
    assert received == {"acme", "default"}
    rejected = {r.error or "": json.loads(r.raw or b"") for r in rows if r.status == "rejected"}
    assert len(rejected) == 2
    reasons = sorted(rejected)
    assert reasons[0] == "unknown_tenant: no tenant 'nowhere' is registered"
    assert reasons[1] == "unknown_tenant: tenant 'beta' is disabled"
    assert rejected[reasons[0]] == events["nowhere"]  # the bytes as they arrived


async def _count_at_least(sessions: async_sessionmaker[AsyncSession], n: int) -> bool:
    return await count_events(sessions) >= n


async def test_http_event_of_an_unknown_tenant_is_422_and_kept_as_rejected(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _disable(sessions, "beta")
    app = create_app(ingest_settings(database_url, "memory://tenants-http"), consume=False)
    async with running(app) as http:
        one = await http.post("/v1/events", json=make_event(1, tenant="nowhere"), headers=KEY)
        batch = [make_event(2, tenant="acme"), make_event(3, tenant="beta")]
        mixed = await http.post("/v1/events", json=batch, headers=KEY)
        accepted = make_event(4, tenant="acme")
        good = await http.post("/v1/events", json=accepted, headers=KEY)
    assert one.status_code == 422, one.text
    [problem] = one.json()["error"]["details"]
    assert problem["type"] == "unknown_tenant" and problem["loc"] == ["body", "tenant"]
    assert mixed.status_code == 422, mixed.text
    assert [p["loc"] for p in mixed.json()["error"]["details"]] == [["body", 1, "tenant"]]
    assert good.status_code == 202, good.text
    rows = await _rows(sessions)
    assert [r.source_event_id for r in rows if r.status == "received"] == [accepted["id"]]
    errors = sorted(r.error or "" for r in rows if r.status == "rejected")
    assert errors == [
        "unknown_tenant: no tenant 'nowhere' is registered",
        "unknown_tenant: tenant 'beta' is disabled",
    ]


async def test_user_tokens_of_unknown_or_disabled_tenants_get_401(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _disable(sessions, "beta")
    app = create_app(ingest_settings(database_url, "memory://tenants-jwt"), consume=False)
    async with running(app) as http:
        answers = {
            tenant: await http.get(
                "/v1/preferences", headers={"Authorization": f"Bearer {user_token('u-1', tenant)}"}
            )
            for tenant in ("default", "acme", "beta", "nowhere")
        }
    assert answers["default"].status_code == answers["acme"].status_code == 200
    assert answers["beta"].status_code == answers["nowhere"].status_code == 401
    assert "tenant 'beta' is disabled" in answers["beta"].text
    assert "no tenant 'nowhere'" in answers["nowhere"].text


async def test_the_registry_is_cached_and_sees_a_change_within_its_ttl(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    ttl_s = 0.3
    registry = TenantRegistry(sessions, ttl_s=ttl_s)
    assert await registry.refusal("acme") is None
    await _disable(sessions, "acme")
    assert await registry.refusal("acme") is None  # the cached copy: no query per message
    await asyncio.sleep(ttl_s + 0.05)
    assert await registry.refusal("acme") == "unknown_tenant: tenant 'acme' is disabled"
