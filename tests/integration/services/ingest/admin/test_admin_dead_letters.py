"""Dead letters from the admin, on real RabbitMQ: counted, replayed back to herald.ingest,
and then stored by the running consumer."""

from __future__ import annotations

import json

import aio_pika
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from herald.emit import sample_event
from libs.common.bus.topology import INGEST_QUEUE, dead_letter_queue
from libs.common.db.models import Event
from services.ingest.app import create_app
from tests.apps import eventually, ingest_settings, running
from tests.integration.services.ingest.admin.admin_support import SAME_ORIGIN, admin_settings, login


async def _bury(amqp_url: str, body: bytes) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        await channel.default_exchange.publish(
            aio_pika.Message(body), routing_key=dead_letter_queue(INGEST_QUEUE)
        )


async def test_dead_letters_are_counted_and_replayed_into_ingest(
    database_url: str, amqp_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    event = sample_event()
    app = create_app(ingest_settings(database_url, amqp_url, **admin_settings()), consume=True)
    async with running(app) as client:
        assert (await login(client)).status_code == 302
        await _bury(amqp_url, json.dumps(event).encode())
        page = await client.get("/admin/dead-letters")
        assert 'data-queue="herald.ingest"' in page.text
        assert '<strong class="dlq-count">1</strong>' in page.text

        refused = await client.post("/admin/dead-letters/replay", data={"queue": "herald.ingest"})
        assert refused.status_code == 403  # no Origin: not from an admin page
        replayed = await client.post(
            "/admin/dead-letters/replay", data={"queue": "herald.ingest"}, headers=SAME_ORIGIN
        )
        assert replayed.status_code == 302
        flashed = await client.get(replayed.headers["location"])
        assert "replayed 1 message(s) from herald.ingest.dead to herald.ingest" in flashed.text

        async def stored() -> bool:
            async with sessions() as s:
                rows = await s.execute(
                    Event.__table__.select().where(Event.source_event_id == event["id"])
                )
                return rows.first() is not None

        await eventually(stored)
        after = await client.get("/admin/dead-letters")
        assert '<strong class="dlq-count">0</strong>' in after.text
