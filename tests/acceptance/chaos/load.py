"""The producer: every planned event published to ``herald.events`` with confirms, paced,
with poison messages published raw between the chunks.

Events go through the client producers use (``EventProducer.amqp``); poison bodies, which
that client would refuse to send, through a bus of its own. A chunk that is not confirmed — the
broker restarting, the connection dropped — is published again, whole: the same event ids,
which ingest deduplicates, so a retry can never create a second event. A poison message
published again may be stored twice as ``rejected`` (nothing deduplicates those): the verdict
asks for at least one row per marker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial

from libs.common.bus import Bus, make_bus
from libs.common.bus.topology import EVENTS_EXCHANGE
from libs.common.clients.producer import EventProducer
from tests.acceptance.chaos.poison import ROUTING_KEY, Poison
from tests.acceptance.chaos.population import PlannedEvent

log = logging.getLogger("herald.chaos.load")

CHUNK = 50  # events per emit_many: one confirm round trip for all of them
RETRY_PAUSE_S = 0.5
FRESH_CLIENT_AFTER = 10  # consecutive failures before the client is replaced
GIVE_UP_S = 300.0  # one chunk unconfirmed this long: the broker is not coming back


@dataclass
class LoadStats:
    published: int = 0
    poison: int = 0  # poison messages confirmed by the broker
    retries: int = 0
    errors: list[str] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0


class Producer:
    def __init__(self, amqp_url: str, rate_per_s: float) -> None:
        self._url, self._rate = amqp_url, rate_per_s
        self.stats = LoadStats()
        self._client: EventProducer | None = None
        self._bus: Bus | None = None  # for the raw poison bodies

    async def run(self, events: list[PlannedEvent], poison: list[Poison]) -> LoadStats:
        """Chunk after chunk; the poison bodies spread evenly between them."""
        self.stats.started = time.monotonic()
        chunks = range(0, len(events), CHUNK)
        per_chunk = -(-len(poison) // max(len(chunks), 1))  # ceiling: all of them go out
        try:
            for n, start in enumerate(chunks):
                chunk = events[start : start + CHUNK]
                await self._pace(start)
                await self._confirmed(partial(self._emit, chunk))
                self.stats.published += len(chunk)
                for bad in poison[n * per_chunk : (n + 1) * per_chunk]:
                    await self._confirmed(partial(self._raw, bad))
                    self.stats.poison += 1
        finally:
            await self._drop_client()
        self.stats.finished = time.monotonic()
        return self.stats

    async def _pace(self, sent: int) -> None:
        due = self.stats.started + sent / self._rate
        await asyncio.sleep(max(0.0, due - time.monotonic()))

    async def _emit(self, chunk: list[PlannedEvent]) -> None:
        client = await self._connected()
        await client.emit_many([e.body() for e in chunk])

    async def _raw(self, poison: Poison) -> None:
        if self._bus is None:
            bus = make_bus(self._url)
            await bus.connect()
            self._bus = bus
        body, mid = poison.body(), poison.marker
        await self._bus.publish(EVENTS_EXCHANGE, ROUTING_KEY, body, mandatory=True, message_id=mid)

    async def _confirmed(self, publish: Callable[[], Awaitable[None]]) -> None:
        deadline, failures = time.monotonic() + GIVE_UP_S, 0
        while True:
            try:
                await publish()
                return
            except Exception as exc:  # any failure: unconfirmed, so publish it again
                failures += 1
                self.stats.retries += 1
                self.stats.errors.append(f"{type(exc).__name__}: {exc}"[:200])
                if time.monotonic() > deadline:
                    raise RuntimeError(f"unconfirmed for {GIVE_UP_S}s: {exc!r}") from exc
                if failures % FRESH_CLIENT_AFTER == 0:
                    await self._drop_client()
                await asyncio.sleep(RETRY_PAUSE_S)

    async def _connected(self) -> EventProducer:
        if self._client is None:
            client = EventProducer.amqp(self._url)
            await client.__aenter__()
            self._client = client
        return self._client

    async def _drop_client(self) -> None:
        client, self._client, bus, self._bus = self._client, None, self._bus, None
        with contextlib.suppress(Exception):
            if client is not None:
                await client.close()
            if bus is not None:
                await bus.close()
