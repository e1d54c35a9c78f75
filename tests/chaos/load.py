"""The producer: every planned event published to ``herald.events`` with confirms, paced.

It uses the client producers use (``EventProducer.amqp``). A chunk that is not confirmed —
the broker restarting, the connection dropped — is published again, whole: the same event
ids, which ingest deduplicates, so a retry can never create a second event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from libs.common.producer import EventProducer
from tests.chaos.population import PlannedEvent

log = logging.getLogger("herald.chaos.load")

CHUNK = 50  # events per emit_many: one confirm round trip for all of them
RETRY_PAUSE_S = 0.5
FRESH_CLIENT_AFTER = 10  # consecutive failures before the client is replaced
GIVE_UP_S = 300.0  # one chunk unconfirmed this long: the broker is not coming back


@dataclass
class LoadStats:
    published: int = 0
    retries: int = 0
    errors: list[str] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0


class Producer:
    def __init__(self, amqp_url: str, rate_per_s: float) -> None:
        self._url, self._rate = amqp_url, rate_per_s
        self.stats = LoadStats()
        self._client: EventProducer | None = None

    async def run(self, events: list[PlannedEvent]) -> LoadStats:
        self.stats.started = time.monotonic()
        try:
            for start in range(0, len(events), CHUNK):
                chunk = events[start : start + CHUNK]
                await self._pace(start)
                await self._publish(chunk)
                self.stats.published += len(chunk)
        finally:
            await self._drop_client()
        self.stats.finished = time.monotonic()
        return self.stats

    async def _pace(self, sent: int) -> None:
        due = self.stats.started + sent / self._rate
        await asyncio.sleep(max(0.0, due - time.monotonic()))

    async def _publish(self, chunk: list[PlannedEvent]) -> None:
        bodies = [e.body() for e in chunk]
        deadline, failures = time.monotonic() + GIVE_UP_S, 0
        while True:
            try:
                client = await self._connected()
                await client.emit_many(bodies)
                return
            except Exception as exc:  # any failure: unconfirmed, so publish the chunk again
                failures += 1
                self.stats.retries += 1
                self.stats.errors.append(f"{type(exc).__name__}: {exc}"[:200])
                if time.monotonic() > deadline:
                    raise RuntimeError(f"chunk unconfirmed for {GIVE_UP_S}s: {exc!r}") from exc
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
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close()
