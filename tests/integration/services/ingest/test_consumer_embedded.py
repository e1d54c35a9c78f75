"""`herald dev`'s backends: the same consumer on SQLite and the in-memory bus — batches with
duplicates and rejects, and every stored event nudged to the processor exactly once."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from libs.common.bus import make_bus
from libs.common.bus.base import Message, QueueSpec
from libs.common.bus.topology import EVENTS_EXCHANGE, PROCESS_KEY, PROCESS_QUEUE, WORK_EXCHANGE
from libs.common.db.engine import make_engine, make_sessionmaker, transaction
from libs.common.db.migrate import upgrade_async
from libs.common.db.models import EventStatus
from libs.common.tenancy.tenant_store import ensure_tenants
from services.ingest.app import create_app
from tests.apps import eventually, ingest_settings, running
from tests.unit.services.ingest.intake_support import count_events, make_event

N = 300


async def test_sqlite_and_memory_bus(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'herald.db'}"
    await upgrade_async(url)
    bus_url = f"memory://{uuid.uuid4().hex}"
    bus = make_bus(bus_url)
    nudges: list[str] = []

    async def on_nudge(message: Message) -> None:
        nudges.extend(json.loads(message.body)["event_ids"])  # one message per stored batch

    await bus.consume(QueueSpec(PROCESS_QUEUE, [(WORK_EXCHANGE, PROCESS_KEY)]), on_nudge, 100)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    async with transaction(sessions) as session:
        await ensure_tenants(session, ["acme"])  # make_event's tenant
    try:
        async with running(create_app(ingest_settings(url, bus_url))):
            events = [json.dumps(make_event(i)).encode() for i in range(N)]
            for body in [*events, events[0], b"not json"]:
                key = "tenders.tender.requirement_added"  # <source>.<type> of each body
                await bus.publish(EVENTS_EXCHANGE, key, body, mandatory=True)

            async def done() -> bool:
                return await count_events(sessions) >= N + 1

            await eventually(done, timeout_s=30)
            await eventually(lambda: _at_least(nudges, N))
        assert await count_events(sessions, EventStatus.RECEIVED.value) == N
        assert await count_events(sessions, EventStatus.REJECTED.value) == 1
        assert len(set(nudges)) == len(nudges) == N
    finally:
        await engine.dispose()


async def _at_least(items: list[str], n: int) -> bool:
    return len(items) >= n
