"""The producer client other services import to emit events (DESIGN §1, §3).

    async with EventProducer.amqp("amqp://guest:guest@rabbit/") as producer:
        await producer.emit(envelope)

AMQP uses publisher confirms and ``mandatory``: when ``emit`` returns, the broker has the event
in a queue; an unroutable event raises instead of vanishing. HTTP posts to ``/v1/events``.
"""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any

import httpx

from libs.common.bus import Bus, make_bus
from libs.common.bus.topology import EVENTS_EXCHANGE
from libs.common.errors import PermanentError, TransientError
from libs.common.schemas.envelope import EventEnvelope, validate_body


class EventProducer:
    def __init__(self, bus: Bus | None = None, http: httpx.AsyncClient | None = None) -> None:
        if (bus is None) == (http is None):
            raise ValueError("give exactly one of bus or http")
        self._bus, self._http = bus, http

    @classmethod
    def amqp(cls, url: str) -> EventProducer:
        return cls(bus=make_bus(url))

    @classmethod
    def http(cls, base_url: str, api_key: str, timeout_s: float = 10.0) -> EventProducer:
        client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), headers={"X-API-Key": api_key}, timeout=timeout_s
        )
        return cls(http=client)

    async def __aenter__(self) -> EventProducer:
        if self._bus is not None:
            await self._bus.connect()
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
        body = event.model_dump(mode="json") if isinstance(event, EventEnvelope) else event
        envelope = validate_body(body)  # fail here, not in Herald's rejected table
        if self._bus is not None:
            await self._bus.publish(
                EVENTS_EXCHANGE,
                envelope.routing_key,
                json.dumps(body).encode(),
                mandatory=True,
                message_id=envelope.id,
            )
            return None
        assert self._http is not None
        try:
            resp = await self._http.post("/v1/events", json=body)
        except httpx.HTTPError as exc:
            raise TransientError(f"POST /v1/events failed: {exc!r}") from exc
        if resp.status_code >= 500:
            raise TransientError(f"Herald answered {resp.status_code}")
        if resp.status_code != 202:
            raise PermanentError(f"Herald refused the event ({resp.status_code}): {resp.text}")
        ids: list[str] = resp.json()["ids"]
        return ids[0]
