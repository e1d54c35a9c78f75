"""A message whose storing fails every time (a bug, here a database trigger refusing it) does
not hold up the others: its batch is stored one by one, it goes back to the queue, and past the
delivery limit RabbitMQ dead-letters it. Once fixed, `herald dlq replay` re-drives it."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from herald.cli import app as cli
from services.ingest.app import create_app
from tests.apps import eventually, ingest_settings, running
from tests.unit.services.ingest.intake_support import (
    count_events,
    declare_ingest_queue,
    make_event,
    publish_raw,
    queue_depth,
)

GOOD = 50

REFUSE_POISON = [
    """CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         IF NEW.source = 'poison' THEN RAISE EXCEPTION 'bug: cannot store %', NEW.source_event_id;
         END IF;
         RETURN NEW;
       END $$""",
    """CREATE TRIGGER refuse_poison BEFORE INSERT ON events
       FOR EACH ROW EXECUTE FUNCTION refuse_poison()""",
]


async def test_poison_message_is_dead_lettered_then_replayed(
    database_url: str,
    amqp_url: str,
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with engine.begin() as conn:
        for statement in REFUSE_POISON:
            await conn.execute(text(statement))
    await declare_ingest_queue(amqp_url)
    bodies = [json.dumps(make_event(i)).encode() for i in range(GOOD)]
    poison = make_event(999, source="poison")
    bodies.insert(GOOD // 2, json.dumps(poison).encode())  # in the middle of a batch
    await publish_raw(amqp_url, bodies)

    async with running(create_app(ingest_settings(database_url, amqp_url))):
        await eventually(lambda: _depth_is(amqp_url, "herald.ingest.dead", 1), timeout_s=60)
        await eventually(lambda: _rows_at_least(sessions, GOOD), timeout_s=30)
        assert await count_events(sessions) == GOOD  # the rest of its batch got through

        async with engine.begin() as conn:  # the bug is fixed
            await conn.execute(text("DROP TRIGGER refuse_poison ON events"))
        result = await asyncio.to_thread(
            CliRunner().invoke, cli, ["dlq", "replay", "--amqp-url", amqp_url]
        )
        assert result.exit_code == 0, result.output
        assert "replayed 1 message(s) from herald.ingest.dead to herald.ingest" in result.output

        await eventually(lambda: _rows_at_least(sessions, GOOD + 1), timeout_s=30)

    assert await count_events(sessions) == GOOD + 1
    assert await queue_depth(amqp_url, "herald.ingest.dead") == 0
    assert await queue_depth(amqp_url, "herald.ingest") == 0


async def test_replay_names_a_missing_queue(amqp_url: str) -> None:
    result = await asyncio.to_thread(
        CliRunner().invoke, cli, ["dlq", "replay", "--queue", "nope", "--amqp-url", amqp_url]
    )
    assert result.exit_code == 2
    assert "queue 'nope' does not exist" in result.output


async def _depth_is(amqp_url: str, queue: str, n: int) -> bool:
    return await queue_depth(amqp_url, queue) == n


async def _rows_at_least(sessions: async_sessionmaker[AsyncSession], n: int) -> bool:
    return await count_events(sessions) >= n
