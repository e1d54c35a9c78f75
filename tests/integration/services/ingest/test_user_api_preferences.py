"""GET/PUT /v1/preferences: defaults from event types, critical channels locked, resets."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import transaction
from libs.common.db.models import ChannelPreference, EventType
from tests.integration.services.ingest.user_api_data import auth, user_api

ALICE = auth("alice")


async def _types(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with transaction(sessions) as session:
        session.add_all(
            [
                EventType(
                    key="tenders.deadline_missed",
                    source="tenders",
                    critical=True,
                    digestible=False,
                    default_channels=["email", "browser"],
                ),
                EventType(
                    key="tenders.comment",
                    source="tenders",
                    digestible=True,
                    default_channels=["browser"],
                ),
                EventType(
                    key="audit.login",
                    source="audit",
                    digestible=False,
                    default_channels=["telegram"],
                ),
            ]
        )


def _module(view: dict[str, Any], source: str) -> dict[str, Any]:
    found: dict[str, Any] = next(m for m in view["modules"] if m["source"] == source)
    return found


async def test_defaults_come_from_event_types(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _types(sessions)
    async with user_api(database_url) as http:
        view = (await http.get("/v1/preferences", headers=ALICE)).json()
    assert view["channels"] == ["email", "telegram", "browser", "sms"]  # the registry's
    assert [m["source"] for m in view["modules"]] == ["*", "audit", "tenders"]
    tenders = _module(view, "tenders")
    assert tenders["critical_types"] == ["tenders.deadline_missed"]
    assert tenders["digestible"] is True
    modes = {ch: s["mode"] for ch, s in tenders["channels"].items()}
    assert modes == {"email": "instant", "telegram": "off", "browser": "instant", "sms": "off"}
    assert tenders["channels"]["email"]["can_turn_off"] is False
    assert tenders["channels"]["telegram"]["can_turn_off"] is True
    assert _module(view, "audit")["channels"]["telegram"]["mode"] == "instant"


async def test_put_sets_resets_and_module_beats_star(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _types(sessions)
    async with user_api(database_url) as http:
        changes = [
            {"source": "*", "channel": "telegram", "mode": "off"},
            {"source": "tenders", "channel": "telegram", "mode": "instant"},
            {"source": "tenders", "channel": "email", "mode": "digest"},
        ]
        resp = await http.put("/v1/preferences", json={"changes": changes}, headers=ALICE)
        assert resp.status_code == 200, resp.text
        tenders = _module(resp.json(), "tenders")["channels"]
        assert tenders["telegram"] == {
            "mode": "instant",
            "is_default": False,
            "can_turn_off": True,
            "can_digest": True,
        }
        assert tenders["email"]["mode"] == "digest"
        assert _module(resp.json(), "audit")["channels"]["telegram"]["mode"] == "off"  # via "*"
        reset = {"changes": [{"source": "tenders", "channel": "email", "mode": None}]}
        view = (await http.put("/v1/preferences", json=reset, headers=ALICE)).json()
    assert _module(view, "tenders")["channels"]["email"] == {
        "mode": "instant",
        "is_default": True,
        "can_turn_off": False,
        "can_digest": True,
    }
    async with sessions() as session:
        rows = {
            (r.source, r.channel, r.mode) for r in await session.scalars(select(ChannelPreference))
        }
    assert rows == {("*", "telegram", "off"), ("tenders", "telegram", "instant")}


async def test_critical_channels_cannot_be_switched_off(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _types(sessions)
    async with user_api(database_url) as http:
        for source in ("tenders", "*"):  # "*" would switch it off for tenders too
            body = {
                "changes": [
                    {"source": "audit", "channel": "email", "mode": "off"},  # fine on its own
                    {"source": source, "channel": "email", "mode": "off"},
                ]
            }
            resp = await http.put("/v1/preferences", json=body, headers=ALICE)
            assert resp.status_code == 422, resp.text
            error = resp.json()["error"]
            assert error["code"] == "critical_channel"
            assert "changes[1]" in error["message"] and "critical" in error["message"]
            assert error["details"]["critical_types"] == ["tenders.deadline_missed"]
        not_digestible = {"changes": [{"source": "audit", "channel": "telegram", "mode": "digest"}]}
        resp = await http.put("/v1/preferences", json=not_digestible, headers=ALICE)
        assert resp.json()["error"]["code"] == "not_digestible"
        unknown = {"changes": [{"source": "audit", "channel": "pigeon", "mode": "instant"}]}
        resp = await http.put("/v1/preferences", json=unknown, headers=ALICE)
        assert resp.status_code == 422 and "pigeon" in resp.json()["error"]["message"]
    async with sessions() as session:  # all or nothing: the valid first change was not saved
        assert list(await session.scalars(select(ChannelPreference))) == []


async def test_concurrent_puts_of_the_same_setting_do_not_collide(database_url: str) -> None:
    async with user_api(database_url) as http:

        async def put(mode: str) -> int:
            body = {"changes": [{"source": "design", "channel": "email", "mode": mode}]}
            return (await http.put("/v1/preferences", json=body, headers=ALICE)).status_code

        statuses = await asyncio.gather(*(put(m) for m in ["digest", "instant", "off"] * 4))
        view = (await http.get("/v1/preferences", headers=ALICE)).json()
    assert set(statuses) == {200}
    assert _module(view, "design")["channels"]["email"]["mode"] in {"digest", "instant", "off"}
