"""The browser has no digest (DESIGN §6): the preferences and digest APIs refuse one with a
422 that says so, and the preferences screen says which channels can be digested."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import ChannelPreference, DigestSchedule
from tests.integration.services.ingest.admin.admin_support import SAME_ORIGIN, admin_client
from tests.integration.services.ingest.user_api_data import auth, user_api

ALICE = auth("alice")


def _refusal(resp: Any) -> dict[str, Any]:
    assert resp.status_code == 422, resp.text
    error: dict[str, Any] = resp.json()["error"]
    assert error["code"] == "no_digest"
    assert "browser channel has no digest" in error["message"]
    return error


async def _stored(sessions: async_sessionmaker[AsyncSession], model: Any) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_preferences_refuse_a_browser_digest(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with user_api(database_url) as api:
        for source in ("tenders", "*"):
            changes = [
                {"source": source, "channel": "email", "mode": "digest"},
                {"source": source, "channel": "browser", "mode": "digest"},
            ]
            error = _refusal(
                await api.put("/v1/preferences", json={"changes": changes}, headers=ALICE)
            )
            assert "changes[1]" in error["message"]
            assert error["details"] == {"change": 1, "source": source, "channel": "browser"}
        view = (await api.get("/v1/preferences", headers=ALICE)).json()
        instant = {"changes": [{"source": "tenders", "channel": "browser", "mode": "instant"}]}
        assert (await api.put("/v1/preferences", json=instant, headers=ALICE)).status_code == 200
    assert await _stored(sessions, ChannelPreference) == 1  # all or none: only the instant one
    everything = view["modules"][0]["channels"]
    assert everything["browser"]["can_digest"] is False
    assert everything["email"]["can_digest"] is True


async def test_the_digest_api_refuses_the_browser(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with user_api(database_url) as api:
        put = await api.put("/v1/digest/browser", json={"time": "09:00"}, headers=ALICE)
        got = await api.get("/v1/digest/browser", headers=ALICE)
        email = await api.put("/v1/digest/email", json={"time": "09:00"}, headers=ALICE)
    _refusal(put)
    _refusal(got)
    assert email.status_code == 200
    assert await _stored(sessions, DigestSchedule) == 1


async def test_the_admin_refuses_a_browser_digest_too(database_url: str) -> None:
    async with admin_client(database_url, "memory://admin-no-digest") as client:
        schedule = await client.post(
            "/admin/digest-schedule/create",
            data={
                "tenant": "default", "user_id": "u-17", "channel": "browser",
                "days_of_week": "[0]", "time_of_day": "09:00", "timezone": "UTC", "enabled": "y",
            },
            headers=SAME_ORIGIN,
        )  # fmt: skip
        preference = await client.post(
            "/admin/channel-preference/create",
            data={
                "tenant": "default", "user_id": "u-17", "source": "*", "channel": "browser",
                "mode": "digest",
            },
            headers=SAME_ORIGIN,
        )  # fmt: skip
    for resp in (schedule, preference):
        assert resp.status_code == 400 and "browser channel has no digest" in resp.text
