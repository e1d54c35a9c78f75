"""The tenant registry by hand: ``herald tenant add|list|disable|enable`` and the admin's
Tenants page, both with the same checks (key shape, settings)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner, Result

from herald.admin_users import run_admin_user
from herald.cli import app as cli
from libs.common.db.models import AdminUser, Tenant
from tests.integration.services.ingest.admin.admin_support import SAME_ORIGIN, admin_client

MEMORY = "memory://admin-tenants"
PASSWORD = "a long enough password"


async def _herald(database_url: str, *args: str) -> Result:
    env = {"HERALD_DATABASE_URL": database_url}
    return await asyncio.to_thread(CliRunner().invoke, cli, ["tenant", *args], env=env)


async def test_herald_tenant_add_list_disable(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    added = await _herald(
        database_url, "add", "globex", "--name", "Globex Corp", "--settings",
        '{"digest": {"time": "08:00"}}',
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    again = await _herald(database_url, "add", "globex")
    bad_key = await _herald(database_url, "add", "Not A Key")
    bad_settings = await _herald(database_url, "add", "initech", "--settings", '{"colour": 1}')
    disabled = await _herald(database_url, "disable", "globex")
    missing = await _herald(database_url, "disable", "nowhere")
    listed = await _herald(database_url, "list")
    assert again.exit_code == 2 and "exists already" in again.output
    assert bad_key.exit_code == 2 and "tenant key" in bad_key.output
    assert bad_settings.exit_code == 2 and "colour" in bad_settings.output
    assert disabled.exit_code == 0 and missing.exit_code == 2
    lines = {line.split("\t")[0]: line.split("\t") for line in listed.output.splitlines()}
    assert lines["globex"][1:3] == ["disabled", "Globex Corp"]
    assert lines["default"][1] == "enabled "  # registered by the migration
    async with sessions() as session:
        row = await session.get(Tenant, "globex")
    assert row is not None and row.settings == {"digest": {"time": "08:00"}}


async def test_the_admin_adds_and_disables_tenants_with_checked_settings(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    form = {"key": "globex", "name": "Globex", "enabled": "y", "settings": "{}"}
    async with admin_client(database_url, MEMORY) as client:
        bad_key = await client.post(
            "/admin/tenant/create", data={**form, "key": "../x"}, headers=SAME_ORIGIN
        )
        bad_settings = await client.post(
            "/admin/tenant/create", data={**form, "settings": '{"nope": 1}'}, headers=SAME_ORIGIN
        )
        created = await client.post("/admin/tenant/create", data=form, headers=SAME_ORIGIN)
        edited = await client.post(
            "/admin/tenant/edit/globex", data={**form, "enabled": ""}, headers=SAME_ORIGIN
        )
        renamed = await client.post(
            "/admin/tenant/edit/globex", data={**form, "key": "initech"}, headers=SAME_ORIGIN
        )
        listing = (await client.get("/admin/tenant/list")).text
    assert bad_key.status_code == 400 and "tenant key" in bad_key.text
    assert bad_settings.status_code == 400 and "nope" in bad_settings.text
    assert created.status_code == edited.status_code == 302, created.text[-500:]
    assert renamed.status_code == 400 and "cannot change" in renamed.text
    assert "globex" in listing and "acme" in listing
    async with sessions() as session:
        row = await session.get(Tenant, "globex")
    assert row is not None and row.enabled is False and row.name == "Globex"


async def test_herald_admin_user_binds_an_account_to_tenants(
    database_url: str, sessions: async_sessionmaker[AsyncSession], monkeypatch: Any
) -> None:
    monkeypatch.setenv("HERALD_DATABASE_URL", database_url)
    bound = await asyncio.to_thread(run_admin_user, "bob", PASSWORD, False, ["acme", "beta"])
    unknown = await asyncio.to_thread(run_admin_user, "eve", PASSWORD, False, ["nowhere"])
    unbound = await asyncio.to_thread(run_admin_user, "bob", PASSWORD, False, None)
    printed = run_admin_user("cfg", PASSWORD, True, ["acme"])
    assert bound == (True, "admin 'bob' created (tenants acme, beta)")
    assert unknown[0] is False and "not registered: ['nowhere']" in unknown[1]
    assert unbound == (True, "admin 'bob' changed (every tenant)")
    assert json.loads(printed[1])["cfg"]["tenants"] == ["acme"]
    async with sessions() as session:
        bob, eve = await session.get(AdminUser, "bob"), await session.get(AdminUser, "eve")
    assert bob is not None and bob.tenants is None and eve is None
