"""A subscription's deadline reminder through the user API: validated, stored, shown."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import Subscription
from tests.integration.services.ingest.user_api_data import auth, user_api

ALICE = auth("alice")
SUB: dict[str, Any] = {
    "name": "Remarks due",
    "source": "tenders",
    "entity_type": "remark",
    "filter": [{"field": "section", "op": "eq", "value": "basement"}],
    "remind": {"field": "deadline", "days_before": "7"},  # a day count by the coercion rules
}


async def test_a_reminder_is_validated_stored_and_shown(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with user_api(database_url) as http:
        created = await http.post("/v1/subscriptions", json=SUB, headers=ALICE)
        assert created.status_code == 201, created.text
        shown = created.json()["remind"]
        assert shown == {"in": "attributes", "field": "deadline", "days_before": 7}
        path = f"/v1/subscriptions/{created.json()['id']}"
        nested = {**SUB, "remind": {"in": "payload", "field": "plan.due", "days_before": 0}}
        assert (await http.put(path, json=nested, headers=ALICE)).status_code == 200
        async with sessions() as session:
            stored = await session.scalar(select(Subscription.remind))
        assert stored == {"in": "payload", "field": "plan.due", "days_before": 0}
        cleared = await http.put(path, json={**SUB, "remind": None}, headers=ALICE)
        assert cleared.json()["remind"] is None
        for bad in (
            {"field": "deadline", "days_before": 366},
            {"field": "deadline", "days_before": -1},
            {"field": "deadline", "days_before": "soon"},
            {"field": "a..b", "days_before": 7},
            {"in": "event", "field": "tenant", "days_before": 7},
            {"field": "deadline", "days_before": 7, "hour": 9},
            {"field": "deadline"},
        ):
            resp = await http.post("/v1/subscriptions", json={**SUB, "remind": bad}, headers=ALICE)
            assert resp.status_code == 422, bad
