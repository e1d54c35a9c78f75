"""A rejected row carries the tenant the refused input names, when that tenant is registered
(DESIGN §15): the envelope's ``tenant`` (also of an envelope that failed validation but is
readable JSON), else over HTTP the producer key's single tenant; otherwise NULL, which only a
global admin sees. Per-tenant retention and a bound admin's view of rejected rows follow it."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import transaction
from libs.common.db.models import Event, EventStatus
from libs.common.tenancy.tenant_store import set_enabled
from services.ingest.admin.users import set_admin_user
from services.ingest.app import create_app
from tests.apps import API_KEY, eventually, ingest_settings, running
from tests.integration.services.ingest.admin.admin_support import ADMIN_PASSWORD, admin_app, login
from tests.unit.services.ingest.intake_support import declare_ingest_queue, make_event, publish_raw

Sessions = async_sessionmaker[AsyncSession]
ACME_KEY = "acme-only-key-0123456789abc"
KEYS: dict[str, Any] = {
    API_KEY: "*",
    ACME_KEY: {"scopes": ["events"], "sources": ["tenders"], "tenants": ["acme"]},
}


async def _rejected(sessions: Sessions) -> dict[str, str | None]:
    """Each rejected row's marker (the producer's event id, or the raw bytes) → its tenant."""
    async with sessions() as session:
        rows = await session.scalars(select(Event).where(Event.status == "rejected"))
        out = {}
        for row in rows:
            try:
                marker = str(json.loads(row.raw or b"")["id"])
            except (ValueError, KeyError, TypeError):
                marker = (row.raw or b"").decode(errors="replace")
            out[marker] = row.tenant
        return out


async def test_amqp_rejected_rows_carry_the_registered_tenant_they_name(
    database_url: str, amqp_url: str, sessions: Sessions
) -> None:
    async with transaction(sessions) as session:
        await set_enabled(session, "beta", False)
    await declare_ingest_queue(amqp_url)
    invalid_acme = {**make_event(3, tenant="acme"), "id": "invalid-acme"}
    del invalid_acme["source"]  # fails validation, still names its tenant
    invalid_ghost = {**make_event(4, tenant="ghost"), "id": "invalid-ghost"}
    del invalid_ghost["source"]
    messages = [
        json.dumps({**make_event(1, tenant="nowhere"), "id": "unknown"}).encode(),
        json.dumps({**make_event(2, tenant="beta"), "id": "disabled"}).encode(),
        json.dumps(invalid_acme).encode(),
        json.dumps(invalid_ghost).encode(),
        json.dumps({"id": "odd-tenant", "tenant": ["acme"]}).encode(),
        b"not json at all",
    ]
    await publish_raw(amqp_url, messages)
    async with running(create_app(ingest_settings(database_url, amqp_url))):
        await eventually(lambda: _count(sessions, len(messages)), timeout_s=30)
    assert await _rejected(sessions) == {
        "unknown": None,  # no such tenant: NULL
        "disabled": "beta",  # registered, disabled: its own
        "invalid-acme": "acme",
        "invalid-ghost": None,
        "odd-tenant": None,
        "not json at all": None,
    }


async def _count(sessions: Sessions, n: int) -> bool:
    return len(await _rejected(sessions)) >= n


async def test_http_rejected_rows_carry_the_envelopes_tenant_else_the_keys_single_one(
    database_url: str, sessions: Sessions
) -> None:
    settings = ingest_settings(database_url, "memory://rejected-tenant", api_keys=KEYS)
    async with running(create_app(settings, consume=False)) as http:
        answers = [
            # the acme-only key, a tenant it may not write: forbidden, beta's row
            await http.post("/v1/events", json={**make_event(1, tenant="beta"), "id": "to-beta"},
                            headers={"X-API-Key": ACME_KEY}),
            # the acme-only key, an unregistered tenant: forbidden, the key's one tenant
            await http.post("/v1/events", json={**make_event(2, tenant="nowhere"), "id": "acme-k"},
                            headers={"X-API-Key": ACME_KEY}),
            # a key of every tenant, an unregistered tenant: nobody's
            await http.post("/v1/events", json={**make_event(3, tenant="nowhere"), "id": "any-k"},
                            headers={"X-API-Key": API_KEY}),
        ]  # fmt: skip
    assert [a.status_code for a in answers] == [403, 403, 422], [a.text for a in answers]
    assert await _rejected(sessions) == {"to-beta": "beta", "acme-k": "acme", "any-k": None}


async def test_a_bound_admin_sees_its_tenants_rejected_rows_and_never_a_tenantless_one(
    database_url: str, sessions: Sessions
) -> None:
    async with transaction(sessions) as session:
        for tenant, marker in (("acme", "rej-mine"), ("beta", "rej-theirs"), (None, "rej-none")):
            session.add(Event(id=marker, tenant=tenant, status=EventStatus.REJECTED.value,
                              raw=marker.encode(), error=f"invalid: {marker}"))  # fmt: skip
        await set_admin_user(session, "acme-ops", ADMIN_PASSWORD, ["acme"])
    async with running(admin_app(database_url, "memory://rejected-admin")) as client:
        assert (await login(client, "acme-ops")).status_code == 302
        listing = await client.get("/admin/rejected-message/list?pageSize=100")
        export = await client.get("/admin/rejected-message/export/csv")
        details = {
            m: (await client.get(f"/admin/rejected-message/details/{m}")).status_code
            for m in ("rej-mine", "rej-theirs", "rej-none")
        }
    assert listing.status_code == export.status_code == 200
    for page in (listing.text, export.text):
        assert "rej-mine" in page and "rej-theirs" not in page and "rej-none" not in page
    assert details["rej-mine"] == 200
    assert details["rej-theirs"] in {403, 404} and details["rej-none"] in {403, 404}
    async with running(admin_app(database_url, "memory://rejected-admin")) as client:
        assert (await login(client)).status_code == 302  # a global admin: all three
        everything = (await client.get("/admin/rejected-message/list?pageSize=100")).text
    assert all(m in everything for m in ("rej-mine", "rej-theirs", "rej-none"))
