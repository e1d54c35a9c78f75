"""``phone`` in the directory (E.164, validated) through both ways in: ``PUT /v1/recipients``
and a ``directory.user.updated`` event; the processor then plans SMS for that person."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import EventType, Recipient
from services.ingest.app import create_app as ingest_app
from tests.apps import API_KEY, ingest_settings, running
from tests.integration.services.processor.support import add, event, processor, rows, store

KEY = {"X-API-Key": API_KEY}


async def _phone(sessions: async_sessionmaker[AsyncSession], user: str) -> str | None:
    async with sessions() as s:
        found = await s.get(Recipient, ("default", user))
        return found.phone if found else None


async def test_put_recipient_validates_and_stores_the_phone(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    settings = ingest_settings(database_url, "memory://phones")
    async with running(ingest_app(settings, consume=False)) as http:
        bad_numbers = ("89161234567", "+0916123", "+7 916 123-45-67", "+7916123456789012")
        for bad in bad_numbers:
            answer = await http.put("/v1/recipients/u-1", json={"phone": bad}, headers=KEY)
            assert answer.status_code == 422 and "body.phone" in answer.text, bad
        ok = await http.put("/v1/recipients/u-1", json={"phone": "+79161234567"}, headers=KEY)
        assert ok.status_code == 200 and ok.json()["phone"] == "+79161234567"
    assert await _phone(sessions, "u-1") == "+79161234567"


async def test_a_directory_event_sets_the_phone_and_sms_is_planned(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await add(sessions, EventType(key="tenders.alarm", source="tenders", default_channels=["sms"]))
    update = event(
        source="directory", type="user.updated", actor=None,
        entity={"type": "user", "id": "u-9", "attributes": {}}, recipients={"self": ["u-9"]},
        payload={"phone": "+4915112345678"},
    )  # fmt: skip
    worker = await processor(sessions, database_url)
    assert await worker.process_ids([await store(sessions, update)]) == 1
    assert await _phone(sessions, "u-9") == "+4915112345678"
    alarm = await store(sessions, event(type="alarm", recipients={"assignee": ["u-9"]}))
    assert await worker.process_ids([alarm]) == 1
    assert [(ch, status) for _u, _r, ch, status, _w in await rows(sessions, alarm)] == [
        ("sms", "PENDING")
    ]
