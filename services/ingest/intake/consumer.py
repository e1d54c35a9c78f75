"""The AMQP consumer: micro-batches, one transaction per batch, ack only after the commit.

Messages are decoded as they arrive and queued; a few flushers each take up to ``batch_size``
of them (waiting at most ``linger_s`` for a batch to fill) and store them with one multi-row
insert. One transaction per message tops out near the database's commit rate; a batch of 100
amortises it. Failure handling, per batch:

* the database is unreachable (``outage.is_transient``) → keep the messages unacked and retry
  the same batch with backoff, forever: an outage is waited out, nothing is acked or dropped;
* any other failure → store the batch's messages one by one to isolate the culprit; the ones
  that store are acked, the culprit is nacked back to the queue, and past the quorum queue's
  delivery limit RabbitMQ moves it to ``herald.ingest.dead`` (``herald dlq replay``).

``stop()`` is the graceful SIGTERM path: cancel the subscription, store and ack everything
already delivered, then return; the caller closes the channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.bus import Bus, Message, QueueSpec
from libs.common.bus.base import TRANSIENT_BACKOFF_S, Consumer, ack_all
from libs.common.bus.topology import EVENTS_EXCHANGE, INGEST_QUEUE
from libs.common.db.engine import transaction
from libs.common.db.outage import is_transient
from libs.common.runtime.batching import batch_then_isolate, take_batch
from libs.common.schemas.envelope import DEFAULT_MAX_RECIPIENTS
from libs.common.tenancy.tenants import TenantRegistry
from services.ingest.intake import metrics as m
from services.ingest.intake.accepted import publish_accepted
from services.ingest.intake.authorize import AmqpGate, tenant_refused
from services.ingest.intake.decode import Accepted, Decoded, Rejected, decode
from services.ingest.intake.nudge import nudge_processor
from services.ingest.intake.store import store_events, store_rejected

log = logging.getLogger("herald.ingest.consumer")

STORE_TIMEOUT_S = 30.0  # a hung database is treated like an unreachable one, not waited on forever
SHUTDOWN_DRAIN_S = 20.0  # SIGTERM: time to store what was delivered; the rest goes back unacked
_RECEIVED = m.RECEIVED.labels("amqp")  # per message: a label lookup each time cost ~4 % CPU


def ingest_queue(bindings: list[str]) -> QueueSpec:
    return QueueSpec(INGEST_QUEUE, bindings=[(EVENTS_EXCHANGE, key) for key in bindings])


@dataclass(frozen=True)
class _Item:
    message: Message
    decoded: Decoded


class _Abandoned(Exception):
    """Shutting down during an outage: leave the batch unacked; the broker redelivers it."""


class IngestConsumer:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: Bus,
        *,
        batch_size: int = 100,
        linger_s: float = 0.005,
        flushers: int = 2,
        max_recipients: int = DEFAULT_MAX_RECIPIENTS,
        gate: AmqpGate | None = None,
        tenants: TenantRegistry | None = None,
    ) -> None:
        self._sessions, self._bus = sessions, bus
        self._tenants = tenants or TenantRegistry(sessions)  # which tenants may be served
        self._max_recipients = max_recipients
        self._gate = gate or AmqpGate(None)  # who published it, under which routing key
        self._batch_size, self._linger_s, self._flushers = batch_size, linger_s, flushers
        self._inbox: asyncio.Queue[_Item] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._subscription: Consumer | None = None
        self._stopping = asyncio.Event()

    async def start(self, spec: QueueSpec, prefetch: int) -> None:
        self._tasks = [asyncio.create_task(self._run()) for _ in range(self._flushers)]
        self._subscription = await self._bus.consume_raw(spec, self._on_message, prefetch)

    async def stop(self) -> None:
        """Stop deliveries, finish in-flight batches and ack them; give up after a deadline."""
        if self._subscription is not None:
            await self._subscription.cancel()
        try:
            await asyncio.wait_for(self._inbox.join(), SHUTDOWN_DRAIN_S)
        except TimeoutError:
            log.warning("shutdown: %d messages left unacked for redelivery", self._inbox.qsize())
        self._stopping.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _on_message(self, message: Message) -> None:
        _RECEIVED.inc()
        decoded = self._gate.judge(
            message, decode(message.body, message.headers, self._max_recipients)
        )
        self._inbox.put_nowait(_Item(message, decoded))

    async def _run(self) -> None:
        while True:
            batch = await take_batch(self._inbox, self._batch_size, self._linger_s)
            try:
                await self._flush(batch)
            except Exception as exc:  # outlive any surprise, and leave no message unsettled
                log.exception("ingest flusher failed on a batch of %d", len(batch))
                for item in batch:
                    if not item.message.settled:
                        await _requeue(item, exc)
            finally:
                for _ in batch:
                    self._inbox.task_done()

    async def _flush(self, batch: list[_Item]) -> None:
        """Store and ack the batch; if that fails, message by message, so a single bad message
        cannot hold up its batch. Shutting down in an outage leaves the rest unacked."""
        fresh: list[str] = []

        async def store(items: Sequence[_Item]) -> None:
            fresh.extend(await self._store_retrying(list(items)))
            await _ack(list(items))

        with contextlib.suppress(_Abandoned):
            await batch_then_isolate(
                batch, store, _requeue, splitting=_isolating, stop_on=(_Abandoned,)
            )
        await nudge_processor(self._bus, fresh)

    async def _store_retrying(self, batch: list[_Item]) -> list[str]:
        attempt = 0
        while True:
            try:
                async with asyncio.timeout(STORE_TIMEOUT_S):
                    return await self._store(batch)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                if self._stopping.is_set():
                    raise _Abandoned from exc
                delay = TRANSIENT_BACKOFF_S[min(attempt, len(TRANSIENT_BACKOFF_S) - 1)]
                attempt += 1
                m.STORE_RETRIES.inc()
                log.warning(
                    "database unavailable, retrying %d messages in %.1fs: %r",
                    len(batch),
                    delay,
                    exc,
                )
                await self._pause(delay)

    async def _pause(self, delay_s: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), delay_s)
        except TimeoutError:
            return

    async def _store(self, batch: list[_Item]) -> list[str]:
        started = time.perf_counter()
        tenants = await self._tenants.all()  # cached: a query every few seconds, not per batch
        judged = [tenant_refused(tenants, i.message, i.decoded) for i in batch]
        accepted = [d for d in judged if isinstance(d, Accepted)]
        rejected = [d for d in judged if isinstance(d, Rejected)]
        async with transaction(self._sessions) as session:
            stored = await store_events(session, accepted)
            await store_rejected(session, rejected)
        await publish_accepted(self._bus, accepted, stored)  # after the commit: feeds
        m.STORE_SECONDS.observe(time.perf_counter() - started)
        m.BATCH_SIZE.observe(len(batch))
        fresh = [s.event_id for s in stored if not s.duplicate]
        m.record_outcome("amqp", len(fresh), len(stored) - len(fresh), [r.kind for r in rejected])
        return fresh


async def _ack(batch: list[_Item]) -> None:
    """After the commit; one frame for the batch where the transport allows. A lost ack (the
    channel died): the broker redelivers, and the repeat is counted as a duplicate."""
    await ack_all([item.message for item in batch])


def _isolating(size: int, exc: Exception) -> None:
    m.ISOLATIONS.inc()
    log.warning("batch of %d failed (%r); storing one by one", size, exc)


async def _requeue(item: _Item, exc: Exception) -> None:
    m.REQUEUED.inc()
    log.error(
        "cannot store message (delivery %d): %r; requeued, dead-lettered past the limit; body=%r",
        item.message.delivery_count,
        exc,
        item.message.body[:2048],
    )
    try:
        await item.message.nack()
    except Exception as nack_exc:
        log.warning("nack failed (%r); the broker will redeliver", nack_exc)
