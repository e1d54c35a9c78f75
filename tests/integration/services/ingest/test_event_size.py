"""The 1 MiB event limit counts the bytes the producer sent, over HTTP as over AMQP (DESIGN §3):
a 600 KB Cyrillic event (1.8 MB once JSON-escaped) is accepted both ways, one just over 1 MiB
is refused both ways — through the real ingest on PostgreSQL and RabbitMQ."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.clients.producer import EventProducer
from libs.common.db.models import Event, EventStatus
from libs.common.runtime.errors import ValidationFailed
from libs.common.schemas.envelope import MAX_EVENT_BYTES
from services.ingest.app import create_app
from services.ingest.intake.event_bytes import item_sizes
from tests.apps import API_KEY, eventually, ingest_settings, running
from tests.unit.services.ingest.intake_support import (
    declare_ingest_queue,
    make_event,
    publish_raw,
    queue_depth,
)

KEY = {"X-API-Key": API_KEY, "Content-Type": "application/json"}
CYRILLIC_CHARS = 300_000  # 600,000 bytes of UTF-8, 1,800,000 once escaped as \uXXXX


def utf8(event: dict[str, Any]) -> bytes:
    """What a producer sends: compact JSON in UTF-8, as httpx and most JSON libraries do."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


def cyrillic(n: int, chars: int = CYRILLIC_CHARS) -> dict[str, Any]:
    return make_event(n, payload={"title": "Замечание", "text": "ж" * chars})


def just_over_the_limit(n: int) -> dict[str, Any]:
    event = cyrillic(n, 0)
    event["payload"]["text"] = "ж" * ((MAX_EVENT_BYTES - len(utf8(event))) // 2 + 1)
    assert len(utf8(event)) == MAX_EVENT_BYTES + 1 or len(utf8(event)) == MAX_EVENT_BYTES + 2
    return event


async def _stored(sessions: async_sessionmaker[AsyncSession]) -> list[Event]:
    async with sessions() as session:
        return list(await session.scalars(select(Event)))


def _by_id(rows: list[Event]) -> dict[str | None, Event]:
    return {r.source_event_id: r for r in rows}


async def test_http_counts_the_bytes_sent_like_amqp(
    database_url: str, amqp_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    big, pair, over = cyrillic(1), [cyrillic(2), cyrillic(3)], just_over_the_limit(4)
    assert len(utf8(big)) < MAX_EVENT_BYTES < len(json.dumps(big))
    async with running(create_app(ingest_settings(database_url, amqp_url), consume=False)) as http:
        one = await http.post("/v1/events", content=utf8(big), headers=KEY)
        batch = await http.post("/v1/events", content=utf8(pair), headers=KEY)  # type: ignore[arg-type]
        refused = await http.post("/v1/events", content=utf8(over), headers=KEY)
    assert one.status_code == 202, one.text[:300]
    assert batch.status_code == 202, batch.text[:300]
    assert refused.status_code == 413 and str(MAX_EVENT_BYTES) in refused.text
    stored = _by_id(await _stored(sessions))
    assert stored[big["id"]].body == big and set(stored) == {
        big["id"],
        pair[0]["id"],
        pair[1]["id"],
    }

    # the same bytes over AMQP: the same answers
    await declare_ingest_queue(amqp_url)
    via_amqp, over_amqp = cyrillic(5), just_over_the_limit(6)
    await publish_raw(amqp_url, [utf8(via_amqp), utf8(over_amqp)])
    async with running(create_app(ingest_settings(database_url, amqp_url))):

        async def both_stored() -> bool:
            return len(await _stored(sessions)) >= len(stored) + 2

        await eventually(both_stored, timeout_s=30)
    rows = await _stored(sessions)
    assert _by_id(rows)[via_amqp["id"]].status == EventStatus.RECEIVED.value
    [rejected] = [r for r in rows if r.status == EventStatus.REJECTED.value]
    assert (rejected.error or "").startswith("too_large:")


def test_item_sizes_are_the_elements_own_bytes() -> None:
    first = b'{"a": "x, ] } [ { \\" \\\\", "n": [1, [2, {"b": 3}]]}'
    second = '{"t": "жж"}'.encode()
    assert item_sizes(b" \r\n[ " + first + b" ,\n\t" + second + b"\n] ") == [
        len(first),
        len(second),
    ]
    assert item_sizes(b"  " + second + b"\n") == [len(second)]


async def test_the_producer_client_sends_the_event_in_utf8_both_ways(
    database_url: str, amqp_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """EventProducer must not inflate what it measures for: \\uXXXX triples Cyrillic."""
    await declare_ingest_queue(amqp_url)
    via_amqp, via_http = cyrillic(7), cyrillic(8)
    app = create_app(ingest_settings(database_url, amqp_url))
    async with running(app):
        async with EventProducer.amqp(amqp_url) as producer:
            await producer.emit(via_amqp)
        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://herald.test",
            headers={"X-API-Key": API_KEY},
        )
        async with EventProducer(http=http) as producer:
            await producer.emit(via_http)

        async def both_stored() -> bool:
            return len(await _stored(sessions)) >= 2

        await eventually(both_stored, timeout_s=30)
    rows = await _stored(sessions)
    assert {r.source_event_id: r.status for r in rows} == {
        via_amqp["id"]: EventStatus.RECEIVED.value,
        via_http["id"]: EventStatus.RECEIVED.value,
    }


async def test_the_producer_refuses_a_lone_surrogate_before_sending_anything(
    amqp_url: str,
) -> None:
    await declare_ingest_queue(amqp_url)
    bad = make_event(2, payload={"title": "\ud800"})
    async with EventProducer.amqp(amqp_url) as producer:
        with pytest.raises(ValidationFailed, match="surrogate"):
            await producer.emit_many([make_event(1), bad])
    assert await queue_depth(amqp_url, "herald.ingest") == 0
