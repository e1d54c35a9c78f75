"""The AMQP consumer: validate, store, commit, then ack (the bus wrapper acks on return)."""

from __future__ import annotations

import time

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.bus import Bus, Message, QueueSpec
from libs.common.bus.topology import EVENTS_EXCHANGE, INGEST_QUEUE
from libs.common.db.engine import transaction
from libs.common.errors import TransientError, ValidationFailed
from libs.common.schemas.envelope import parse_envelope
from services.ingest import metrics as m
from services.ingest.intake import store_event, store_rejected
from services.ingest.nudge import nudge_processor


def ingest_queue(bindings: list[str]) -> QueueSpec:
    return QueueSpec(INGEST_QUEUE, bindings=[(EVENTS_EXCHANGE, key) for key in bindings])


class IngestConsumer:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], bus: Bus) -> None:
        self._sessions, self._bus = sessions, bus

    async def handle(self, message: Message) -> None:
        m.RECEIVED.labels("amqp").inc()
        started = time.perf_counter()
        try:
            async with transaction(self._sessions) as session:
                event_id = await self._store(session, message)
        except (OperationalError, InterfaceError, OSError) as exc:
            raise TransientError(f"database unavailable: {exc}") from exc
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise TransientError(f"database connection lost: {exc}") from exc
            raise
        m.STORE_SECONDS.observe(time.perf_counter() - started)
        if event_id is not None:
            await nudge_processor(self._bus, [event_id])

    async def _store(self, session: AsyncSession, message: Message) -> str | None:
        try:
            envelope, body = parse_envelope(message.body)
        except ValidationFailed as exc:
            kind = exc.reason.split(":", 1)[0]
            m.REJECTED.labels(kind).inc()
            await store_rejected(session, message.body, message.headers, exc.reason)
            return None
        stored = await store_event(session, envelope, body)
        if stored.duplicate:
            m.DUPLICATES.labels("amqp").inc()
            return None
        m.STORED.labels("amqp").inc()
        return stored.event_id
