"""GET/PUT /v1/digest: schedules per channel, validated, scoped to the token's tenant and user."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import time_machine
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest.app import create_app
from tests.apps import ingest_settings, running, user_token
from tests.integration.services.sender.digest_support import add_user, add_waiting, utc

NOW = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)  # a Friday, 10:00 in Moscow


def auth(user: str, tenant: str = "default") -> dict[str, str]:
    return {"Authorization": f"Bearer {user_token(user, tenant)}"}


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ingest_settings(database_url, "memory://digest-api"), consume=False)
    async with running(app) as client:
        yield client


async def test_requires_a_token(api: httpx.AsyncClient) -> None:
    assert (await api.get("/v1/digest")).status_code == 401
    resp = await api.put("/v1/digest/email", json={"time": "09:00"})
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "unauthorized"


async def test_defaults_before_anything_is_saved(
    api: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await add_user(sessions, "u-1", timezone="America/New_York")
    await add_waiting(sessions, "u-1", utc(2026, 11, 26, 12))
    assert (await api.get("/v1/digest", headers=auth("u-1"))).json() == {"schedules": []}
    got = (await api.get("/v1/digest/email", headers=auth("u-1"))).json()
    assert got == {
        "channel": "email",
        "days": [0, 1, 2, 3, 4, 5, 6],
        "time": "09:00",
        "timezone": "America/New_York",
        "enabled": True,
        "configured": False,
        "next_run_at": None,
        "collecting_since": None,
        "waiting": 1,
    }


async def test_put_stores_what_the_engine_needs(
    api: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    body = {"days": [4, 0], "time": "09:30", "timezone": "Europe/Berlin"}
    with time_machine.travel(NOW, tick=False):
        resp = await api.put("/v1/digest/email", json=body, headers=auth("u-1"))
    assert resp.status_code == 200, resp.text
    got = resp.json()
    # Friday 08:00 in Berlin now → today 09:30 CET; the window being collected starts now
    assert got["days"] == [0, 4] and got["configured"] is True
    assert got["next_run_at"] == "2026-11-27T08:30:00Z"
    assert got["collecting_since"] == "2026-11-27T07:00:00Z"
    listed = (await api.get("/v1/digest", headers=auth("u-1"))).json()["schedules"]
    assert [s["channel"] for s in listed] == ["email"]


async def test_timezone_defaults_to_the_directory(
    api: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await add_user(sessions, "u-ny", timezone="America/New_York")
    with time_machine.travel(NOW, tick=False):
        resp = await api.put("/v1/digest/telegram", json={"time": "08:00"}, headers=auth("u-ny"))
    assert resp.json()["timezone"] == "America/New_York"
    assert resp.json()["next_run_at"] == "2026-11-27T13:00:00Z"  # 08:00 EST today


@pytest.mark.parametrize(
    ("body", "where", "says"),
    [
        ({"days": [7]}, "days", "0 (Monday) to 6 (Sunday)"),
        ({"time": "24:00"}, "time", "HH:MM"),
        ({"timezone": "Mars/Olympus"}, "timezone", "unknown time zone"),
        ({"days": []}, "body", "at least one day"),
        ({"cron": "* * * * *"}, "cron", "Extra inputs"),
    ],
)
async def test_bad_schedules_are_refused_with_the_reason(
    api: httpx.AsyncClient, body: dict[str, Any], where: str, says: str
) -> None:
    resp = await api.put("/v1/digest/email", json=body, headers=auth("u-1"))
    assert resp.status_code == 422
    error = resp.json()["error"]
    assert error["code"] == "invalid"
    assert any(where in d["loc"] and says in d["msg"] for d in error["details"]), error


async def test_a_switched_off_schedule_may_have_no_days(api: httpx.AsyncClient) -> None:
    resp = await api.put("/v1/digest/email", json={"days": [], "enabled": False}, headers=auth("u"))
    assert resp.status_code == 200 and resp.json()["next_run_at"] is None


async def test_unknown_channel_is_refused(api: httpx.AsyncClient) -> None:
    assert (await api.put("/v1/digest/fax", json={}, headers=auth("u-1"))).status_code == 422
    assert (await api.get("/v1/digest/inbox", headers=auth("u-1"))).status_code == 422


async def test_users_and_tenants_see_only_their_own(api: httpx.AsyncClient) -> None:
    await api.put("/v1/digest/email", json={"time": "07:00"}, headers=auth("u-1"))
    await api.put("/v1/digest/email", json={"time": "20:00"}, headers=auth("u-1", "other"))
    mine = (await api.get("/v1/digest/email", headers=auth("u-1"))).json()
    theirs = (await api.get("/v1/digest/email", headers=auth("u-1", "other"))).json()
    stranger = (await api.get("/v1/digest", headers=auth("u-2"))).json()
    assert (mine["time"], theirs["time"]) == ("07:00", "20:00")
    assert stranger == {"schedules": []}


async def test_openapi_documents_the_endpoints(api: httpx.AsyncClient) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    assert {"get", "put"} <= set(paths["/v1/digest/{channel}"])
    assert "get" in paths["/v1/digest"]
