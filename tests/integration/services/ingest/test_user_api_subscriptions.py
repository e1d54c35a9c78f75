"""CRUD /v1/subscriptions with filter validation, and the preview over recent events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import transaction
from libs.common.db.models import Event, Recipient
from services.ingest.user_api.subscription_store import MAX_SUBSCRIPTIONS_PER_USER
from tests.integration.services.ingest.user_api_data import auth, event_row, user_api

ALICE = auth("alice")
FILTER: list[dict[str, Any]] = [
    {"field": "deadline", "op": "within_days", "value": 7},
    {"field": "responsible", "op": "roles_any", "value": ["designer"]},
]
SUB: dict[str, Any] = {
    "name": "Remarks due soon",
    "source": "tenders",
    "entity_type": "tender",
    "project_id": "P-42",
    "filter": FILTER,
    "channels": ["email", "browser", "email"],
}


def _scope(conditions: list[dict[str, Any]]) -> dict[str, Any]:
    """The preview's body: the subscription without name and channels."""
    body = {k: v for k, v in SUB.items() if k not in ("name", "channels")}
    return {**body, "filter": conditions}


async def test_crud_round_trip(database_url: str) -> None:
    async with user_api(database_url) as http:
        created = await http.post("/v1/subscriptions", json=SUB, headers=ALICE)
        assert created.status_code == 201, created.text
        sub = created.json()
        assert sub["channels"] == ["email", "browser"]  # de-duplicated
        assert sub["filter"] == FILTER
        path = f"/v1/subscriptions/{sub['id']}"
        assert (await http.get(path, headers=ALICE)).json() == sub
        changed = {**SUB, "name": "renamed", "enabled": False, "filter": []}
        replaced = (await http.put(path, json=changed, headers=ALICE)).json()
        assert (replaced["name"], replaced["enabled"], replaced["filter"]) == ("renamed", False, [])
        listed = (await http.get("/v1/subscriptions", headers=ALICE)).json()
        assert [s["id"] for s in listed] == [sub["id"]]
        assert (await http.delete(path, headers=ALICE)).status_code == 204
        assert (await http.get(path, headers=ALICE)).status_code == 404
        assert (await http.delete(path, headers=ALICE)).status_code == 404


async def test_a_bad_filter_is_422_naming_the_condition(database_url: str) -> None:
    bad_filters: dict[int, list[dict[str, Any]]] = {
        1: [FILTER[0], {"field": "x", "op": "regex", "value": "."}],  # unknown op
        0: [{"field": "deadline", "op": "within_days", "value": "soon"}],  # wrong type
        2: [*FILTER, {"field": "amount", "op": "between", "value": [5, 1]}],  # low > high
    }
    async with user_api(database_url) as http:
        for index, conditions in bad_filters.items():
            bodies = {"/v1/subscriptions": {**SUB, "filter": conditions}}
            bodies["/v1/subscriptions/preview"] = _scope(conditions)
            for path, body in bodies.items():
                resp = await http.post(path, json=body, headers=ALICE)
                assert resp.status_code == 422, resp.text
                error = resp.json()["error"]
                assert error["code"] == "invalid_filter"
                assert error["details"]["condition"] == index
                assert error["message"].startswith(f"filter[{index}]: ")
        unknown_channel = await http.post(
            "/v1/subscriptions", json={**SUB, "channels": ["fax"]}, headers=ALICE
        )
        assert unknown_channel.status_code == 422
        assert "fax" in unknown_channel.json()["error"]["message"]
        not_a_list = await http.post(
            "/v1/subscriptions", json={**SUB, "filter": {"op": "eq"}}, headers=ALICE
        )
        assert not_a_list.status_code == 422
        assert not_a_list.json()["error"]["details"][0]["loc"] == ["body", "filter"]


async def test_subscriptions_per_user_are_capped(database_url: str) -> None:
    async with user_api(database_url) as http:
        for _ in range(MAX_SUBSCRIPTIONS_PER_USER):
            assert (
                await http.post("/v1/subscriptions", json=SUB, headers=ALICE)
            ).status_code == 201
        over = await http.post("/v1/subscriptions", json=SUB, headers=ALICE)
        bob = await http.post("/v1/subscriptions", json=SUB, headers=auth("bob"))
    assert over.status_code == 409 and over.json()["error"]["code"] == "conflict"
    assert bob.status_code == 201


async def test_preview_matches_like_the_processor_with_roles_from_the_directory(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    now = datetime.now(UTC)
    soon, later = (now + timedelta(days=3)).date(), (now + timedelta(days=30)).date()
    cases = {
        "hit": {"deadline": soon.isoformat(), "responsible": ["u-designer"]},
        "installer": {"deadline": soon.isoformat(), "responsible": ["u-installer"]},
        "too late": {"deadline": later.isoformat(), "responsible": ["u-designer"]},
    }
    async with transaction(sessions) as session:
        session.add(Recipient(tenant="default", user_id="u-designer", roles=["designer"]))
        session.add(Recipient(tenant="default", user_id="u-installer", roles=["installer"]))
        rows = {name: event_row(attributes=attrs) for name, attrs in cases.items()}
        rows["other project"] = event_row(attributes=cases["hit"], project_id="P-1")
        rows["other entity"] = event_row(attributes=cases["hit"], entity_type="remark")
        rows["old"] = event_row(attributes=cases["hit"])
        session.add_all(rows.values())
        await session.flush()
        await session.execute(
            update(Event)
            .where(Event.id == rows["old"].id)
            .values(received_at=now - timedelta(days=20))
        )
    body = _scope(FILTER)
    async with user_api(database_url) as http:
        resp = await http.post("/v1/subscriptions/preview", json=body, headers=ALICE)
        wider = await http.post(
            "/v1/subscriptions/preview", json={**body, "days": 30}, headers=ALICE
        )
    assert resp.status_code == 200, resp.text
    result = resp.json()
    assert (result["scanned"], result["matched"]) == (3, 1)
    assert [e["event_id"] for e in result["events"]] == [rows["hit"].id]
    assert set(result["events"][0]) == {
        "event_id",
        "type",
        "entity_id",
        "project_id",
        "occurred_at",
    }
    assert (wider.json()["scanned"], wider.json()["matched"]) == (4, 2)
