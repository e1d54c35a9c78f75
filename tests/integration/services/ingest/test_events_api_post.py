"""POST /v1/events: 202 with stored ids, duplicates flagged, 422 per field, 413, 401/403, 503."""

from __future__ import annotations

import inspect
import json
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.bus.amqp import AmqpBus
from libs.common.bus.base import QueueSpec
from libs.common.bus.topology import PROCESS_KEY, PROCESS_QUEUE, WORK_EXCHANGE
from libs.common.db.models import Event
from services.ingest.app import create_app
from services.ingest.auth_deps import calling_service
from services.ingest.intake.http_body import MAX_BATCH, MAX_REQUEST_BYTES
from tests.apps import API_KEY, ingest_settings, running
from tests.unit.services.ingest.intake_support import (
    count_events,
    drain_nudges,
    make_event,
    proxy_to,
    queue_depth,
)

KEY = {"X-API-Key": API_KEY}
TENDERS_KEY = "tenders-key-0123456789abcdef"


def _problems(resp: httpx.Response) -> list[dict[str, Any]]:
    details: list[dict[str, Any]] = resp.json()["error"]["details"]
    return details


async def _declare_process_queue(amqp_url: str) -> None:
    bus = AmqpBus(amqp_url)
    await bus.connect()
    await bus.declare(QueueSpec(PROCESS_QUEUE, bindings=[(WORK_EXCHANGE, PROCESS_KEY)]))
    await bus.close()


async def test_one_event_is_stored_and_the_processor_nudged(
    database_url: str, amqp_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _declare_process_queue(amqp_url)
    event = make_event(1)
    async with running(create_app(ingest_settings(database_url, amqp_url), consume=False)) as http:
        resp = await http.post("/v1/events", json=event, headers=KEY)
    assert resp.status_code == 202, resp.text
    (stored_id,) = resp.json()["ids"]
    assert resp.json()["duplicates"] == [False]
    async with sessions() as session:
        row = await session.get(Event, stored_id)
    assert row is not None and row.source_event_id == event["id"] and row.body == event
    assert await queue_depth(amqp_url, PROCESS_QUEUE) == 1


async def test_a_batch_is_nudged_to_the_processor_in_one_message(
    database_url: str, amqp_url: str
) -> None:
    await _declare_process_queue(amqp_url)
    events = [make_event(n) for n in range(5)]
    async with running(create_app(ingest_settings(database_url, amqp_url), consume=False)) as http:
        resp = await http.post("/v1/events", json=events, headers=KEY)
        repeat = await http.post("/v1/events", json=events[:2], headers=KEY)
    assert resp.status_code == repeat.status_code == 202, resp.text
    assert repeat.json()["duplicates"] == [True, True]
    # the fresh ids in one message; the repeat stored nothing, so it nudged nothing
    assert await drain_nudges(amqp_url) == [resp.json()["ids"]]


async def test_a_batch_returns_ids_in_order_and_flags_repeats(
    database_url: str, amqp_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    first, second = make_event(1), make_event(2)
    settings = ingest_settings(database_url, amqp_url)
    async with running(create_app(settings, consume=False)) as http:
        earlier = await http.post("/v1/events", json=first, headers=KEY)
        resp = await http.post("/v1/events", json=[second, first, second], headers=KEY)
    assert resp.status_code == 202, resp.text
    ids, dups = resp.json()["ids"], resp.json()["duplicates"]
    assert dups == [False, True, True]
    assert ids[1] == earlier.json()["ids"][0] and ids[0] == ids[2]
    assert await count_events(sessions) == 2
    async with sessions() as session:
        stored = dict((await session.execute(select(Event.id, Event.source_event_id))).all())
    assert stored == {ids[0]: second["id"], ids[1]: first["id"]}


async def test_invalid_events_are_refused_field_by_field_and_nothing_is_stored(
    database_url: str, amqp_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    good = make_event(1)
    bad = make_event(2, priority="urgent", occurred_at="2026-11-26T10:00:00")
    del bad["entity"]["id"]
    nul = make_event(3, payload={"t": "a\u0000b"})
    async with running(create_app(ingest_settings(database_url, amqp_url), consume=False)) as http:
        resp = await http.post("/v1/events", json=[good, bad, "x", nul], headers=KEY)
        single = await http.post("/v1/events", json={"source": "tenders"}, headers=KEY)
        not_json = await http.post("/v1/events", content=b"{nope", headers=KEY)
        empty = await http.post("/v1/events", json=[], headers=KEY)
        too_many = await http.post(
            "/v1/events", json=[make_event(i) for i in range(MAX_BATCH + 1)], headers=KEY
        )
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["code"] == "invalid"
    locs = {tuple(p["loc"]): p["type"] for p in _problems(resp)}
    assert locs[("body", 1, "entity", "id")] == "missing"
    assert locs[("body", 1, "priority")] == "enum"
    assert ("body", 1, "occurred_at") in locs
    assert locs[("body", 2)] == "not_object"
    assert locs[("body", 3)] == "unstorable"
    assert not any(loc[:2] == ("body", 0) for loc in locs)
    assert single.status_code == 422
    assert ("body", "id") in {tuple(p["loc"]) for p in _problems(single)}
    assert not_json.status_code == 422 and _problems(not_json)[0]["type"] == "not_json"
    assert empty.status_code == 422 and too_many.status_code == 422
    assert await count_events(sessions) == 0


async def test_too_large_is_413(database_url: str, amqp_url: str) -> None:
    huge_event = make_event(1, payload={"blob": "x" * (1024 * 1024)})
    async with running(create_app(ingest_settings(database_url, amqp_url), consume=False)) as http:
        one = await http.post("/v1/events", json=[make_event(0), huge_event], headers=KEY)
        declared = await http.post(
            "/v1/events",
            content=b"[]",
            headers={**KEY, "Content-Length": str(MAX_REQUEST_BYTES + 1)},
        )
        streamed = await http.post(
            "/v1/events", content=_chunks(MAX_REQUEST_BYTES + 1), headers=KEY
        )
    assert one.status_code == 413 and "event 1" in one.json()["error"]["message"]
    assert declared.status_code == 413
    assert streamed.status_code == 413


async def _chunks(total: int) -> Any:
    chunk = b" " * 65536
    for _ in range(0, total, len(chunk)):
        yield chunk


async def test_api_keys_are_per_source(database_url: str, amqp_url: str) -> None:
    settings = ingest_settings(database_url, amqp_url, api_keys={TENDERS_KEY: "tenders"})
    # the shorthand "tenders": events of source tenders in tenant default (DESIGN §3.1)
    own, other = make_event(1, tenant="default"), make_event(2, source="approvals")
    async with running(create_app(settings, consume=False)) as http:
        missing = await http.post("/v1/events", json=own)
        wrong = await http.post("/v1/events", json=own, headers={"X-API-Key": "x" * 20})
        foreign = await http.post(
            "/v1/events", json=[own, other], headers={"X-API-Key": TENDERS_KEY}
        )
        allowed = await http.post("/v1/events", json=own, headers={"X-API-Key": TENDERS_KEY})
    assert missing.status_code == 401 and wrong.status_code == 401
    assert foreign.status_code == 403
    assert "'approvals'" in foreign.json()["error"]["message"]
    assert allowed.status_code == 202


async def test_database_down_is_503_with_retry_after(database_url: str, amqp_url: str) -> None:
    async with proxy_to(database_url) as proxy:
        settings = ingest_settings(proxy.url_for(database_url), amqp_url)
        async with running(create_app(settings, consume=False)) as http:
            await proxy.cut()
            down = await http.post("/v1/events", json=make_event(1), headers=KEY)
            await proxy.restore()
            up = await http.post("/v1/events", json=make_event(1), headers=KEY)
    assert down.status_code == 503, down.text
    assert down.headers["Retry-After"].isdigit()
    assert up.status_code == 202, up.text


def test_request_limit_fits_a_full_batch() -> None:
    batch = json.dumps([make_event(i) for i in range(MAX_BATCH)]).encode()
    assert len(batch) < MAX_REQUEST_BYTES


def test_the_api_key_check_runs_on_the_event_loop() -> None:
    """A plain ``def`` dependency would cost a worker-thread hop on every request."""
    assert inspect.iscoroutinefunction(calling_service)
