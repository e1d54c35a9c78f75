"""Retry a delivery and reprocess an event from the admin: the row changes, the trail says
who did it, the worker is nudged after the commit, and unsafe requests are refused."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.bus import Message, QueueSpec, make_bus
from libs.common.bus.topology import PROCESS_KEY, SEND_KEY, WORK_EXCHANGE
from libs.common.db.models import Delivery, DeliveryAttempt, Event
from tests.apps import eventually
from tests.integration.services.ingest.admin.admin_support import (
    ADMIN_USER,
    SAME_ORIGIN,
    admin_client,
    seed_story,
)


async def _listen(url: str, key: str) -> list[dict[str, object]]:
    got: list[dict[str, object]] = []

    async def keep(message: Message) -> None:
        got.append(json.loads(message.body))

    bus = make_bus(url)
    spec = QueueSpec(
        f"test.{key}.{uuid.uuid4().hex[:6]}", bindings=[(WORK_EXCHANGE, key)], dead_letters=False
    )
    await bus.consume(spec, keep, 10)
    return got


async def test_retry_requeues_failed_deliveries_and_refuses_sent_ones(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ids = await seed_story(sessions)
    url = f"memory://admin-actions-{uuid.uuid4().hex}"
    async with admin_client(database_url, url) as client:
        nudges = await _listen(url, SEND_KEY)
        before = datetime.now(UTC)
        pks = f"{ids['failed']},{ids['denied']},{ids['sent']}"
        response = await client.get(
            f"/admin/delivery/action/retry?pks={pks}",
            headers={"Referer": "http://herald.test/admin/delivery/list"},
        )
        assert response.status_code == 302
        page = await client.get(response.headers["location"])
        assert f"delivery {ids['sent']} is SENT" in page.text  # the refusal, flashed
        await eventually(lambda: _true(nudges))
    assert nudges == [{"delivery_ids": [ids["failed"], ids["denied"]]}]
    async with sessions() as s:
        failed = await s.get(Delivery, ids["failed"])
        sent = await s.get(Delivery, ids["sent"])
        trail = list(
            await s.scalars(
                select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == ids["failed"])
            )
        )
    assert failed is not None and sent is not None
    assert (failed.status, failed.attempts, failed.locked_until) == ("PENDING", 0, None)
    assert failed.next_attempt_at is not None and failed.next_attempt_at >= before
    assert sent.status == "SENT"
    assert trail[-1].outcome == "requeued" and ADMIN_USER in (trail[-1].error or "")
    assert "550 mailbox unavailable" in (trail[-1].error or "")


async def test_reprocess_puts_a_failed_event_back_and_refuses_processed_ones(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await seed_story(sessions)
    url = f"memory://admin-actions-{uuid.uuid4().hex}"
    async with admin_client(database_url, url) as client:
        nudges = await _listen(url, PROCESS_KEY)
        response = await client.get(
            "/admin/event/action/reprocess?pks=e-3,e-1,nope", headers=SAME_ORIGIN
        )
        assert response.status_code == 302
        page = await client.get(response.headers["location"])
        assert "event e-1 is processed: already processed" in page.text  # the refusals, flashed
        assert "no event nope" in page.text
        await eventually(lambda: _true(nudges))
    assert nudges == [{"event_ids": ["e-3"]}]  # the reprocessed ones, in one nudge
    async with sessions() as s:
        failed = await s.get(Event, "e-3")
        processed = await s.get(Event, "e-1")
    assert failed is not None and processed is not None
    assert (failed.status, failed.attempts) == ("received", 0)
    assert ADMIN_USER in (failed.error or "") and "boom: db" in (failed.error or "")
    assert processed.status == "processed"


async def _true(items: list[dict[str, object]]) -> bool:
    await asyncio.sleep(0)
    return bool(items)
