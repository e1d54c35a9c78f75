"""POST /v1/events with a body whose decoding once raised (issue 14: a 500): each is a 422
naming the problem, nothing of it is stored, and valid events sent next are stored."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ingest.app import create_app
from tests.apps import API_KEY, ingest_settings, running
from tests.integration.services.ingest.hostile_inputs import HOSTILE
from tests.unit.services.ingest.intake_support import count_events, make_event

KEY = {"X-API-Key": API_KEY, "Content-Type": "application/json"}


async def test_each_hostile_body_is_a_422_with_its_reason(
    database_url: str, amqp_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    settings = ingest_settings(database_url, amqp_url)
    async with running(create_app(settings, consume=False)) as http:
        for name, (body, prefix, detail) in HOSTILE.items():
            for content in (body, b"[" + body + b"]"):  # one event, and a batch of one
                resp = await http.post("/v1/events", content=content, headers=KEY)
                assert resp.status_code == 422, (name, resp.status_code, resp.text[:300])
                problems: list[dict[str, Any]] = resp.json()["error"]["details"]
                if prefix == "invalid:":  # named per field, as pydantic types them
                    assert any("recipients" in p["loc"] for p in problems), (name, problems)
                    continue
                named = [p for p in problems if p["type"] == prefix.rstrip(":")]
                assert any(detail in p["msg"] for p in named), (name, problems)
        good = [make_event(n) for n in range(3)]
        resp = await http.post("/v1/events", json=good, headers={"X-API-Key": API_KEY})
        assert resp.status_code == 202, resp.text
    assert await count_events(sessions) == len(good)
