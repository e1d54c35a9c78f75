"""Admin login, sessions, logout and the CSRF defences, through the real ingest app."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import Headers

from libs.common.db.engine import transaction
from libs.common.db.models import AdminUser
from services.ingest.admin.csrf import needs_check, same_origin
from services.ingest.admin.passwords import hash_password
from services.ingest.admin.settings import AdminSettings
from tests.apps import running
from tests.integration.services.ingest.admin.admin_support import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    ORIGIN,
    SAME_ORIGIN,
    admin_app,
    admin_client,
    login,
)

MEMORY = "memory://admin-auth"


async def test_login_is_required_and_wrong_passwords_are_refused(database_url: str) -> None:
    async with running(admin_app(database_url, MEMORY)) as client:
        assert (await client.get("/admin/event/list")).status_code == 302
        assert (await client.get("/admin/event/list")).headers["location"].endswith("/admin/login")
        refused = await login(client, password="wrong")
        assert refused.status_code == 400 and "Invalid credentials" in refused.text
        assert (await login(client, user="nobody")).status_code == 400
        assert (await client.get("/admin/event/list")).status_code == 302


async def test_session_cookie_is_strict_http_only_and_scoped_to_admin(database_url: str) -> None:
    async with running(admin_app(database_url, MEMORY)) as client:
        response = await login(client)
        assert response.status_code == 302
        cookie = response.headers["set-cookie"].lower()
        assert "herald_admin=" in cookie and "httponly" in cookie
        assert "samesite=strict" in cookie and "path=/admin" in cookie
        assert (await client.get("/admin/event/list")).status_code == 200
        await client.get("/admin/logout")
        assert (await client.get("/admin/event/list")).status_code == 302


async def test_database_accounts_log_in_and_lose_their_session_when_changed(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with transaction(sessions) as s:
        s.add(AdminUser(username="dba", password_hash=hash_password("s3cret-enough")))
    async with running(admin_app(database_url, MEMORY)) as client:
        assert (await login(client, "dba", "s3cret-enough")).status_code == 302
        assert (await client.get("/admin/template/list")).status_code == 200
        async with transaction(sessions) as s:  # a new password ends existing sessions
            new_hash = hash_password("rotated-password")
            await s.execute(update(AdminUser).values(password_hash=new_hash))
        assert (await client.get("/admin/template/list")).status_code == 302
        assert (await login(client, "dba", "rotated-password")).status_code == 302
        async with transaction(sessions) as s:  # so does deleting the account
            await s.execute(delete(AdminUser))
        assert (await client.get("/admin/template/list")).status_code == 302


async def test_cross_site_requests_are_refused(database_url: str) -> None:
    async with admin_client(database_url, MEMORY) as client:
        form = {"username": ADMIN_USER, "password": ADMIN_PASSWORD}
        no_origin = await client.post("/admin/login", data=form)
        foreign = await client.post(
            "/admin/login", data=form, headers={"Origin": "https://evil.test"}
        )
        assert (no_origin.status_code, foreign.status_code) == (403, 403)
        action = "/admin/delivery/action/retry?pks=1"
        evil = {"Referer": "https://evil.test/page"}
        assert (await client.get(action, headers=evil)).status_code == 403
        assert (await client.get(action)).status_code == 403  # no Origin, no Referer
        preview = await client.post(
            "/admin/template/preview",
            data={"body": "x"},
            headers={"Sec-Fetch-Site": "cross-site", **SAME_ORIGIN},
        )
        assert preview.status_code == 403
        ok = await client.post("/admin/template/preview", data={"body": "x"}, headers=SAME_ORIGIN)
        assert ok.status_code == 200 and ok.json()["ok"] is True


def test_same_origin_rules() -> None:
    host = ORIGIN.removeprefix("http://")
    assert same_origin(Headers({"host": host, "origin": ORIGIN}))
    assert same_origin(Headers({"host": host, "referer": f"{ORIGIN}/admin/x"}))
    assert not same_origin(Headers({"host": host, "origin": "null"}))
    assert not same_origin(Headers({"host": host, "origin": f"http://{host}.evil.test"}))
    assert needs_check("POST", "/admin/login") and needs_check("GET", "/admin/event/action/x")
    assert not needs_check("GET", "/admin/event/list")


def test_settings_refuse_users_without_a_secret_and_malformed_hashes() -> None:
    with pytest.raises(ValidationError, match="HERALD_ADMIN_SESSION_SECRET"):
        AdminSettings(admin_users={"a": hash_password("x")})
    with pytest.raises(ValidationError, match="password hash of 'a'"):
        AdminSettings(admin_users={"a": "plaintext"}, admin_session_secret="s" * 32)


async def test_admin_is_off_without_a_session_secret(database_url: str) -> None:
    from services.ingest.app import create_app
    from tests.apps import ingest_settings

    app = create_app(ingest_settings(database_url, MEMORY), consume=False)
    async with running(app) as client:
        assert (await client.get("/admin/login")).status_code == 404
