"""Tenant and user isolation on every user API endpoint: someone else's item is a 404."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import transaction
from libs.common.db.models import Notification
from tests.integration.services.ingest.user_api_data import (
    add_notifications,
    auth,
    event_row,
    user_api,
)

ALICE = auth("alice")
BOB = auth("bob")  # same tenant, another user
ALICE_ELSEWHERE = auth("alice", tenant="other")  # same user id, another tenant
INTRUDERS = {"bob": BOB, "alice@other": ALICE_ELSEWHERE}
SUB = {"name": "mine", "source": "tenders", "entity_type": "tender", "filter": []}


async def test_every_endpoint_is_scoped_to_tenant_and_user(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    [note] = await add_notifications(sessions, "alice", 1)
    async with user_api(database_url) as http:
        sub = (await http.post("/v1/subscriptions", json=SUB, headers=ALICE)).json()
        pref = {"changes": [{"source": "tenders", "channel": "email", "mode": "digest"}]}
        assert (await http.put("/v1/preferences", json=pref, headers=ALICE)).status_code == 200
        for who, headers in INTRUDERS.items():
            page = (await http.get("/v1/inbox", headers=headers)).json()
            assert page["items"] == [], who
            counts = (await http.get("/v1/inbox/counts", headers=headers)).json()
            assert counts == {"total": 0, "by_source": {}}, who
            for action in ("read", "unread", "archive", "unarchive"):
                resp = await http.post(f"/v1/inbox/{note}/{action}", headers=headers)
                assert resp.status_code == 404, (who, action)
            read_all = (await http.post("/v1/inbox/read-all", headers=headers)).json()
            assert read_all["updated"] == 0, who
            assert (await http.get("/v1/subscriptions", headers=headers)).json() == [], who
            path = f"/v1/subscriptions/{sub['id']}"
            assert (await http.get(path, headers=headers)).status_code == 404, who
            assert (await http.put(path, json=SUB, headers=headers)).status_code == 404, who
            assert (await http.delete(path, headers=headers)).status_code == 404, who
            view = (await http.get("/v1/preferences", headers=headers)).json()
            explicit = [
                (m["source"], ch)
                for m in view["modules"]
                for ch, setting in m["channels"].items()
                if not setting["is_default"]
            ]
            assert explicit == [], who
        # alice's own data is untouched by all of that
        assert (await http.get("/v1/inbox/counts", headers=ALICE)).json()["total"] == 1
        assert (await http.get(f"/v1/subscriptions/{sub['id']}", headers=ALICE)).status_code == 200
        view = (await http.get("/v1/preferences", headers=ALICE)).json()
    tenders = next(m for m in view["modules"] if m["source"] == "tenders")
    assert tenders["channels"]["email"] == {
        "mode": "digest",
        "is_default": False,
        "can_turn_off": True,
        "can_digest": True,
    }
    async with sessions() as session:
        row = await session.scalar(select(Notification).where(Notification.id == note))
    assert row is not None and row.read_at is None and row.archived_at is None


async def test_preview_only_sees_the_callers_tenant(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with transaction(sessions) as session:
        session.add(event_row(tenant="default", attributes={"section": "basement"}))
        session.add(event_row(tenant="other", attributes={"section": "basement"}))
    body = {"source": "tenders", "entity_type": "tender", "filter": []}
    async with user_api(database_url) as http:
        mine = (await http.post("/v1/subscriptions/preview", json=body, headers=ALICE)).json()
        theirs = (
            await http.post("/v1/subscriptions/preview", json=body, headers=ALICE_ELSEWHERE)
        ).json()
        nobody = await http.post("/v1/subscriptions/preview", json=body)
    assert mine["scanned"] == 1 and theirs["scanned"] == 1
    assert mine["events"][0]["event_id"] != theirs["events"][0]["event_id"]
    assert nobody.status_code == 401
