"""No poison message (issue 14): a body whose decoding raised anything but ``ValidationFailed``
was left unsettled (the prefetch window filled and intake stopped, silently) or dead-lettered
after 5 deliveries. Through the real ingest consumer and RabbitMQ, every such body interleaved
with valid events becomes a ``rejected`` row with its reason, the valid events are stored,
and the broker holds nothing: no message ready, none unacked, none dead."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import Event, EventStatus
from services.ingest.app import create_app
from tests.apps import eventually, ingest_settings, running
from tests.infra import queue_counts
from tests.integration.services.ingest.hostile_inputs import HOSTILE
from tests.unit.services.ingest.intake_support import (
    count_events,
    declare_ingest_queue,
    make_event,
    publish_raw,
)

SETTLED_TIMEOUT_S = 20.0  # the broker's own counters refresh every few seconds


async def test_hostile_bodies_are_rejected_with_a_reason_and_intake_goes_on(
    database_url: str, amqp_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await declare_ingest_queue(amqp_url)
    good = [make_event(n) for n in range(len(HOSTILE) + 1)]
    for event, (body, _, _) in zip(good, HOSTILE.values(), strict=False):
        await publish_raw(amqp_url, [json.dumps(event).encode(), body])
    await publish_raw(amqp_url, [json.dumps(good[-1]).encode()])
    total = len(good) + len(HOSTILE)

    async with running(create_app(ingest_settings(database_url, amqp_url))):

        async def all_stored() -> bool:
            return await count_events(sessions) >= total

        await eventually(all_stored, timeout_s=SETTLED_TIMEOUT_S)
        await eventually(lambda: _broker_holds_nothing(amqp_url), timeout_s=SETTLED_TIMEOUT_S)

    async with sessions() as session:
        rows = (await session.scalars(select(Event))).all()
    rejected = {bytes(r.raw or b""): r.error or "" for r in rows if r.status == "rejected"}
    for name, (body, prefix, detail) in HOSTILE.items():
        reason = rejected.get(body)
        assert reason is not None, f"{name}: no rejected row"
        assert reason.startswith(prefix) and detail in reason, (name, reason)
    stored = {r.source_event_id for r in rows if r.status == EventStatus.RECEIVED.value}
    assert stored == {e["id"] for e in good}
    assert len(rows) == total


async def _broker_holds_nothing(amqp_url: str) -> bool:
    counts = await queue_counts(amqp_url)
    return counts["herald.ingest"] == (0, 0) and counts["herald.ingest.dead"] == (0, 0)
