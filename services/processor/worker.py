"""The processor's loop: nudges and a sweep feed ``process_one``; the worker owns commits."""

from __future__ import annotations

import asyncio
import json
import logging
import time

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.bus import Bus, Message
from libs.common.bus.topology import SEND_KEY, WORK_EXCHANGE
from libs.common.db.engine import transaction
from libs.common.db.models import Event, EventStatus
from libs.common.errors import PermanentError
from services.processor import metrics as m
from services.processor.claim import claim_event, stale_event_ids
from services.processor.pipeline import process
from services.processor.settings import ProcessorSettings

log = logging.getLogger("herald.processor")
SWEEP_BATCH = 500


class Processor:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], bus: Bus, settings: ProcessorSettings
    ) -> None:
        self._sessions, self._bus, self._s = sessions, bus, settings

    async def on_nudge(self, message: Message) -> None:
        try:
            event_id = str(json.loads(message.body)["event_id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise PermanentError(f"malformed nudge: {message.body[:200]!r}") from exc
        await self.process_one(event_id)

    async def process_one(self, event_id: str) -> bool:
        """True when this call processed the event; False when there was nothing to do."""
        started = time.perf_counter()
        try:
            async with transaction(self._sessions) as session:
                event = await claim_event(session, event_id)
                if event is None:
                    return False
                outcome = await process(session, event, self._s.processor_default_channels)
        except Exception as exc:
            await self._record_failure(event_id, exc)
            return False
        m.PROCESSED.inc()
        m.NOTIFICATIONS.inc(outcome.notifications)
        m.LATENCY.observe(time.perf_counter() - started)
        if outcome.pending:
            await self._nudge_sender(outcome.pending)
        return True

    async def _record_failure(self, event_id: str, exc: Exception) -> None:
        """Everything rolled back; count the attempt, and past the limit mark it failed."""
        log.warning("processing %s failed: %r", event_id, exc)
        m.FAILURES.inc()
        try:
            async with transaction(self._sessions) as session:
                await session.execute(
                    update(Event)
                    .where(Event.id == event_id, Event.status == EventStatus.RECEIVED.value)
                    .values(
                        attempts=Event.attempts + 1, error=f"{type(exc).__name__}: {exc}"[:2000]
                    )
                )
                await session.execute(
                    update(Event)
                    .where(
                        Event.id == event_id,
                        Event.status == EventStatus.RECEIVED.value,
                        Event.attempts >= self._s.processor_max_attempts,
                    )
                    .values(status=EventStatus.FAILED.value)
                )
        except Exception:
            log.exception("could not record the failure of %s; the sweep retries it", event_id)

    async def _nudge_sender(self, delivery_ids: list[int]) -> None:
        try:
            body = json.dumps({"delivery_ids": delivery_ids}).encode()
            await self._bus.publish(WORK_EXCHANGE, SEND_KEY, body)
        except Exception as exc:  # the sender's sweep finds due rows anyway
            log.warning("sender nudge not sent: %s", exc)

    async def sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self._s.processor_sweep_interval_s)
            try:
                await self.sweep_once()
            except Exception:
                log.exception("sweep failed; trying again next interval")

    async def sweep_once(self) -> int:
        async with self._sessions() as session:
            ids = await stale_event_ids(session, self._s.processor_sweep_age_s, SWEEP_BATCH)
        done = 0
        for event_id in ids:
            done += await self.process_one(event_id)
        return done
