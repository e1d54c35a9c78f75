"""Every class of bad input becomes a ``rejected`` row with its bytes, headers and a precise
reason; the message is acked and the consumer keeps consuming. Repeats are stored once."""

from __future__ import annotations

import json

from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import Event, EventStatus
from libs.common.schemas.envelope import MAX_EVENT_BYTES
from services.ingest.app import create_app
from tests.apps import eventually, ingest_settings, running
from tests.unit.services.ingest.intake_support import (
    count_events,
    declare_ingest_queue,
    make_event,
    publish_raw,
    queue_depth,
)


def _json(event: dict[str, object]) -> bytes:
    return json.dumps(event).encode()


def _without(field: str) -> bytes:
    event = make_event()
    del event[field]
    return _json(event)


# body → what the stored reason must start with and contain
BAD_INPUTS: dict[str, tuple[bytes, str, str]] = {
    "not json": (b'{"id": "x", ', "not_json:", "line 1"),
    "not utf-8": (b'{"id": "\xff\xfe"}', "not_utf8:", "offset 8"),
    "over 1 MiB": (
        _json(make_event(payload={"blob": "x" * MAX_EVENT_BYTES})),
        "too_large:",
        str(MAX_EVENT_BYTES),
    ),
    "not an object": (b"[1, 2, 3]", "not_object:", "list"),
    "missing field": (_without("entity"), "invalid:", "entity: Field required"),
    "mistyped field": (_json(make_event(recipients=["u-1"])), "invalid:", "recipients"),
    "bad timestamp": (_json(make_event(occurred_at="yesterday")), "invalid:", "occurred_at"),
    "naive timestamp": (
        _json(make_event(occurred_at="2026-11-26T10:00:00")),
        "invalid:",
        "time zone",
    ),
    "unknown priority": (_json(make_event(priority="urgent")), "invalid:", "priority"),
    "bad source": (_json(make_event(source="no spaces allowed")), "invalid:", "source"),
    "NUL in a string": (
        _json(make_event(payload={"title": "a\u0000b"})),
        "unstorable:",
        "NUL",
    ),
    "lone surrogate": (
        b'{"id":"x","source":"s","type":"t","entity":{"type":"e","id":"1"},'
        b'"occurred_at":"2026-11-26T10:00:00Z","payload":{"t":"\\ud800"}}',
        "unstorable:",
        "surrogate",
    ),
}


async def test_each_bad_input_is_stored_as_rejected_and_consuming_goes_on(
    database_url: str, amqp_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await declare_ingest_queue(amqp_url)
    headers = {"x-producer": "tests", "x-odd": "a\x00b"}
    for body, _, _ in BAD_INPUTS.values():
        await publish_raw(amqp_url, [body], headers=headers)
    good = make_event(7)
    await publish_raw(amqp_url, [_json(good)])

    async with running(create_app(ingest_settings(database_url, amqp_url))):

        async def all_stored() -> bool:
            return await count_events(sessions) >= len(BAD_INPUTS) + 1

        await eventually(all_stored, timeout_s=30)

    async with sessions() as session:
        rows = (await session.scalars(select(Event))).all()
    rejected = {bytes(r.raw or b""): r for r in rows if r.status == EventStatus.REJECTED.value}
    for name, (body, prefix, detail) in BAD_INPUTS.items():
        row = rejected.get(body)
        assert row is not None, f"{name}: no rejected row"
        assert row.error is not None and row.error.startswith(prefix), (name, row.error)
        assert detail in row.error, (name, row.error)
        assert row.headers is not None and row.headers["x-producer"] == "tests"
        assert row.headers["x-odd"] == "a\ufffdb"  # jsonb cannot hold NUL
    accepted = [r for r in rows if r.status == EventStatus.RECEIVED.value]
    assert [r.source_event_id for r in accepted] == [good["id"]]
    assert accepted[0].body == good
    assert await queue_depth(amqp_url, "herald.ingest") == 0


async def test_a_repeat_adds_nothing_and_is_counted(
    database_url: str, amqp_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await declare_ingest_queue(amqp_url)
    event = make_event(1)
    before = REGISTRY.get_sample_value("herald_ingest_duplicates_total", {"via": "amqp"}) or 0.0
    # three copies in one batch, then two more in later batches: one row
    await publish_raw(amqp_url, [_json(event)] * 3)
    async with running(create_app(ingest_settings(database_url, amqp_url))):
        await eventually(lambda: _duplicates_at_least(before + 2))
        await publish_raw(amqp_url, [_json(event)] * 2)
        await eventually(lambda: _duplicates_at_least(before + 4))
    assert await count_events(sessions) == 1


async def _duplicates_at_least(value: float) -> bool:
    seen = REGISTRY.get_sample_value("herald_ingest_duplicates_total", {"via": "amqp"}) or 0.0
    return seen >= value
