"""The processor's loop: nudges and the sweep feed batches; the worker owns the commits.

Nudges that arrive together are processed together (up to ``processor_batch_max`` events per
transaction, ``processor_concurrency`` transactions at a time): the batch size adapts to the
load, one event alone when it is quiet. A batch that fails is rolled back and its events are
retried one by one, so a failure is always charged to the one event that caused it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.bus import Bus, Message
from libs.common.bus.nudges import nudge_sender, parse_process_nudge
from libs.common.db.engine import transaction
from libs.common.db.models import Event, EventStatus, utcnow
from libs.common.db.outage import is_transient as is_database_outage
from libs.common.runtime.batching import batch_then_isolate, take_batch
from libs.common.runtime.errors import TransientError
from services.processor import metrics as m
from services.processor.batch import Deps, Outcome, process_batch
from services.processor.claim import stale_event_ids
from services.processor.escalation_firing import fire_escalations
from services.processor.preload import preload_quietly
from services.processor.reminder_firing import fire_due
from services.processor.settings import ProcessorSettings

log = logging.getLogger("herald.processor")
SWEEP_BATCH = 500
ERROR_CHARS = 2000

Pending = tuple[str, asyncio.Future[None]]


def is_transient(exc: BaseException) -> bool:
    """An outage (database or directory unreachable): not the event's fault, not counted.

    The directory says so with ``TransientError``; the database's outages are classified in
    one place, libs/common/db/outage.py (as for ingest and the sender): an invalidated or
    refused connection, and SQLSTATE classes such as 57 that a restarting PostgreSQL answers
    with ("the database system is starting up") as a plain DBAPIError."""
    return isinstance(exc, TransientError) or is_database_outage(exc)


Firing = Callable[[AsyncSession, Deps, datetime, int], Awaitable[Outcome]]


async def _every(interval_s: float, job: Callable[[], Awaitable[int]], what: str) -> None:
    """``job`` every ``interval_s`` seconds, the first after one interval; a failure is logged
    and the next interval tries again."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await job()
        except Exception:
            log.exception("%s failed; trying again next interval", what)


class Processor:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: Bus,
        settings: ProcessorSettings,
        deps: Deps,
    ) -> None:
        self._sessions, self._bus, self._s, self._deps = sessions, bus, settings, deps
        self._queue: asyncio.Queue[Pending] = asyncio.Queue()
        self._runners: list[asyncio.Task[None]] = []
        self._nudges: set[asyncio.Task[int]] = set()  # sender nudges in flight

    def start(self, concurrency: int) -> None:
        self._runners = [asyncio.create_task(self._run()) for _ in range(concurrency)]
        self._runners.append(asyncio.create_task(preload_quietly(self._sessions)))
        self._runners.append(asyncio.create_task(self.remind_forever()))
        self._runners.append(asyncio.create_task(self.escalate_forever()))

    async def stop(self) -> None:
        for task in self._runners:
            task.cancel()
        for task in self._runners:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.gather(*self._nudges, return_exceptions=True)

    async def on_nudge(self, message: Message) -> None:
        """``{"event_id": …}`` or ``{"event_ids": [...]}`` (one message for a whole ingest
        batch). Returns (→ ack) once every event is committed, found done, or its failure
        recorded."""
        futures = []
        for event_id in parse_process_nudge(message.body):
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            await self._queue.put((event_id, future))
            futures.append(future)
        await asyncio.gather(*futures)

    async def _run(self) -> None:
        while True:
            batch = await take_batch(
                self._queue, self._s.processor_batch_max, self._s.processor_batch_linger_ms / 1000
            )
            try:
                await self.process_ids(list(dict.fromkeys(i for i, _ in batch)))
            except Exception:  # never lose the runner; the sweep retries whatever is left
                log.exception("batch of %d failed unexpectedly", len(batch))
            for _, future in batch:
                if not future.done():
                    future.set_result(None)

    async def process_ids(self, event_ids: Sequence[str]) -> int:
        """Process these events (those still ``received``); the number processed. A failed
        batch is retried event by event: the culprit is charged, the others go through."""
        done = 0

        async def commit(ids: Sequence[str]) -> None:
            nonlocal done
            done += self._after_commit(await self._commit_batch(ids))

        await batch_then_isolate(event_ids, commit, self._record_failure)
        return done

    async def _commit_batch(self, event_ids: Sequence[str]) -> Outcome:
        started = time.perf_counter()
        async with transaction(self._sessions) as session:
            outcome = await process_batch(session, event_ids, self._deps)
        outcome.seconds = time.perf_counter() - started
        return outcome

    def _after_commit(self, outcome: Outcome) -> int:
        """Metrics and the sender's nudge; nothing here may undo or fail the commit."""
        try:
            self._observe(outcome)
        except Exception:
            log.exception("metrics update failed")
        if outcome.pending:
            task = asyncio.create_task(nudge_sender(self._bus, outcome.pending))
            self._nudges.add(task)
            task.add_done_callback(self._nudges.discard)
        return len(outcome.processed)

    def _observe(self, outcome: Outcome) -> None:
        for status, count in outcome.escalations.items():  # filled by escalation_firing only
            m.ESCALATION_STEPS.labels(status).inc(count)
        if not outcome.processed:
            return
        now = utcnow()
        m.PROCESSED.inc(len(outcome.processed))
        m.BATCH_SECONDS.observe(outcome.seconds)
        m.NOTIFICATIONS.inc(outcome.notifications)
        for status, count in outcome.deliveries.items():
            m.DELIVERIES.labels(status).inc(count)
        for event in outcome.processed:
            received = event.received_at
            if received.tzinfo is None:  # SQLite hands back naive UTC
                received = received.replace(tzinfo=UTC)
            m.LATENCY.observe(max(0.0, (now - received).total_seconds()))

    async def _record_failure(self, event_id: str, exc: Exception) -> None:
        """Everything rolled back. Count the attempt (not for an outage), past the limit
        mark the event failed; the sweep retries it until then."""
        transient = is_transient(exc)
        log.warning("processing %s failed (%s): %r", event_id, "transient" * transient, exc)
        m.FAILURES.labels("transient" if transient else "error").inc()
        error = f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]
        still = (Event.id == event_id, Event.status == EventStatus.RECEIVED.value)
        try:
            async with transaction(self._sessions) as session:
                bump = 0 if transient else 1
                values = {"attempts": Event.attempts + bump, "error": error}
                await session.execute(update(Event).where(*still).values(**values))
                limit = Event.attempts >= self._s.processor_max_attempts
                failed = await session.execute(
                    update(Event).where(*still, limit).values(status=EventStatus.FAILED.value)
                )
            if getattr(failed, "rowcount", 0):
                m.FAILED.inc()
                log.error("event %s failed for good: %s", event_id, error)
        except Exception:
            log.exception("could not record the failure of %s; the sweep retries it", event_id)

    async def remind_forever(self) -> None:
        await _every(
            self._s.processor_reminder_interval_s, self.fire_reminders, "sending reminders"
        )

    async def fire_reminders(self) -> int:
        """Send the reminders due now (DESIGN §5.2), a transaction per batch; how many were
        handled (sent or found stale)."""
        return await self._drain(fire_due, self._s.processor_reminder_batch, lambda o: o.reminders)

    async def escalate_forever(self) -> None:
        await _every(self._s.processor_escalation_interval_s, self.fire_escalations, "escalating")

    async def fire_escalations(self) -> int:
        """Take the escalation steps due now (DESIGN §6), a transaction per batch; how many
        due steps were handled (sent, skipped or stopped)."""
        return await self._drain(
            fire_escalations, self._s.processor_escalation_batch, lambda o: o.steps
        )

    async def _drain(self, fire: Firing, limit: int, handled: Callable[[Outcome], int]) -> int:
        """``fire`` what is due now, ``limit`` at a time, a transaction each, until a batch
        comes back short; how many were ``handled`` in all."""
        done = 0
        while True:
            async with transaction(self._sessions) as session:
                outcome = await fire(session, self._deps, utcnow(), limit)
            self._after_commit(outcome)
            done += handled(outcome)
            if handled(outcome) < limit:
                return done

    async def sweep_forever(self) -> None:
        await _every(self._s.processor_sweep_interval_s, self.sweep_once, "sweep")

    async def sweep_once(self) -> int:
        async with self._sessions() as session:
            ids = await stale_event_ids(session, self._s.processor_sweep_age_s, SWEEP_BATCH)
        done = 0
        for start in range(0, len(ids), self._s.processor_batch_max):
            done += await self.process_ids(ids[start : start + self._s.processor_batch_max])
        return done
