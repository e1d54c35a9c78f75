"""The producer client other services import to emit events (DESIGN §1, §3).

    async with EventProducer.amqp("amqp://guest:guest@rabbit/") as producer:
        await producer.emit(envelope)

AMQP uses publisher confirms and ``mandatory``: when ``emit`` returns, the broker has the event
in a queue; an unroutable event raises ``PermanentError`` instead of vanishing, a broker that
does not confirm raises ``TransientError`` (send again: a repeat of the same id is harmless).
HTTP posts to ``/v1/events`` with an ``X-API-Key`` whose source matches the events'.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import httpx

from libs.common.bus import Bus, make_bus
from libs.common.bus.topology import EVENTS_EXCHANGE
from libs.common.runtime.errors import PermanentError, TransientError, ValidationFailed
from libs.common.schemas.envelope import EventEnvelope, validate_body

AMQP_WINDOW = 500  # publishes awaiting their confirm at once
HTTP_BATCH = 500  # POST /v1/events accepts up to 500 events per request


class EventProducer:
    def __init__(self, bus: Bus | None = None, http: httpx.AsyncClient | None = None) -> None:
        if (bus is None) == (http is None):
            raise ValueError("give exactly one of bus or http")
        self._bus, self._http = bus, http

    @classmethod
    def amqp(cls, url: str) -> EventProducer:
        """Messages carry the URL's user as ``user_id`` (RabbitMQ refuses any other), which
        ``HERALD_AMQP_PRODUCERS`` maps to what it may emit; the user needs only write access
        to ``herald.events`` (docs/security.md)."""
        return cls(bus=make_bus(url, producer=True))

    @classmethod
    def http(cls, base_url: str, api_key: str, timeout_s: float = 10.0) -> EventProducer:
        client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers={"X-API-Key": api_key}, timeout=timeout_s
        )
        return cls(http=client)

    async def __aenter__(self) -> EventProducer:
        if self._bus is not None:
            try:
                await self._bus.connect()
            except BaseException:  # e.g. no herald.events yet: leave no connection behind
                await self._bus.close()
                raise
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._bus is not None:
            await self._bus.close()
        if self._http is not None:
            await self._http.aclose()

    async def emit(self, event: EventEnvelope | dict[str, Any]) -> str | None:
        """Validate locally, then send. Returns Herald's stored id over HTTP, None over AMQP."""
        return (await self.emit_many([event]))[0]

    async def emit_many(self, events: Sequence[EventEnvelope | dict[str, Any]]) -> list[str | None]:
        """Send many at once: over AMQP the publishes overlap (one confirm round trip per
        ``AMQP_WINDOW`` events, not per event); over HTTP batches of ``HTTP_BATCH`` per POST.
        All are validated before any is sent. Results follow the input order."""
        bodies = [e.model_dump(mode="json") if isinstance(e, EventEnvelope) else e for e in events]
        envelopes = [validate_body(b) for b in bodies]  # fail here, not in Herald's rejected table
        if self._bus is not None:
            payloads = [_wire(b) for b in bodies]  # all encodable before any is sent
            for start in range(0, len(bodies), AMQP_WINDOW):
                chunk = range(start, min(start + AMQP_WINDOW, len(bodies)))
                await asyncio.gather(*(self._publish(envelopes[i], payloads[i]) for i in chunk))
            return [None] * len(bodies)
        ids: list[str | None] = []
        for start in range(0, len(bodies), HTTP_BATCH):
            ids += await self._post(bodies[start : start + HTTP_BATCH])
        return ids

    async def _publish(self, envelope: EventEnvelope, payload: bytes) -> None:
        assert self._bus is not None
        await self._bus.publish(
            EVENTS_EXCHANGE,
            envelope.routing_key,
            payload,
            mandatory=True,
            message_id=envelope.id,
        )

    async def _post(self, bodies: list[dict[str, Any]]) -> list[str | None]:
        assert self._http is not None
        try:
            resp = await self._http.post("/v1/events", json=bodies)
        except httpx.HTTPError as exc:
            raise TransientError(f"POST /v1/events failed: {exc!r}") from exc
        if resp.status_code >= 500 or resp.status_code == 429:
            raise TransientError(f"Herald answered {resp.status_code}: {resp.text[:500]}")
        if resp.status_code != 202:
            raise PermanentError(f"Herald refused the events ({resp.status_code}): {resp.text}")
        ids: list[str | None] = resp.json()["ids"]
        return ids


def _wire(body: dict[str, Any]) -> bytes:
    """Compact UTF-8, as httpx posts it: the 1 MiB limit counts these bytes, and ``\\uXXXX``
    escapes would triple a Cyrillic text."""
    try:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    except UnicodeEncodeError as exc:  # Herald would store it rejected: say so here instead
        raise ValidationFailed("unstorable: a string contains a lone UTF-16 surrogate") from exc
