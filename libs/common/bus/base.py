"""The bus interface both implementations honour."""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from libs.common.bus.held import HeldMessages
from libs.common.runtime.errors import PermanentError, TransientError

log = logging.getLogger("herald.bus")

TRANSIENT_BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)  # then 5 s forever: an outage is waited out


@dataclass
class Message:
    """A delivered message, independent of the transport."""

    body: bytes
    routing_key: str
    exchange: str = ""
    headers: dict[str, Any] = field(default_factory=dict)
    redelivered: bool = False
    message_id: str | None = None
    user_id: str | None = None  # AMQP: the publisher's broker user, which RabbitMQ validated
    _settle: Callable[[str], Awaitable[None]] | None = None
    _acker: BatchAcker | None = None  # the transport can ack many in one frame
    _raw: Any = None  # the transport's own message, for the acker
    _release: Callable[[], object] | None = None  # stops tracking it as held (held.py)

    @property
    def delivery_count(self) -> int:
        """How many times the broker delivered it before (quorum queues count this)."""
        value = self.headers.get("x-delivery-count", 0)
        return int(value) if isinstance(value, int | str) and str(value).isdigit() else 0

    async def ack(self) -> None:
        await self._do("ack")

    async def nack(self) -> None:
        """Give it back to the queue (counts toward the delivery limit)."""
        await self._do("nack")

    async def reject(self) -> None:
        """Dead-letter it."""
        await self._do("reject")

    @property
    def settled(self) -> bool:
        """Acked, nacked or rejected already (or never the broker's to settle)."""
        return self._settle is None

    def mark_settled(self) -> bool:
        """For a batch acker that covers this message with another's frame: no frame of its
        own from now on. False if it was settled already."""
        was, self._settle = self._settle is not None, None
        self._released()
        return was

    async def _do(self, what: str) -> None:
        if self._settle is not None:
            settle, self._settle = self._settle, None
            self._released()
            await settle(what)

    def _released(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            release()


class BatchAcker(Protocol):
    async def ack_many(self, messages: Sequence[Message]) -> None: ...


async def ack_all(messages: Sequence[Message]) -> None:
    """Ack every message, in as few frames as the transport allows (AMQP: one ``multiple``
    ack where safe). Never raises: a failed ack is logged, and the broker redelivers."""
    batches: dict[int, tuple[BatchAcker, list[Message]]] = {}
    for message in messages:
        if message._acker is not None:
            batches.setdefault(id(message._acker), (message._acker, []))[1].append(message)
            continue
        try:
            await message.ack()
        except Exception as exc:
            log.warning("ack failed (%r); the broker will redeliver", exc)
    for acker, batch in batches.values():
        await acker.ack_many(batch)


Handler = Callable[[Message], Awaitable[None]]
RawHandler = Callable[[Message], Awaitable[None]]


async def deliver(handler: RawHandler, message: Message, queue: str) -> None:
    """Call a consumer's handler; whatever it raises, the message does not stay unsettled (an
    unsettled message holds a prefetch slot until the channel dies: issue 14).
    ``PermanentError`` → dead-letter now; anything else, a bug included → back to the queue,
    dead-lettered past its delivery limit. Not Exception (cancelled): settled, then re-raised."""
    try:
        await handler(message)
    except BaseException as exc:
        if not message.settled:
            await _settle_failed(message, exc, queue)
        if not isinstance(exc, Exception):
            raise


async def _settle_failed(message: Message, exc: BaseException, queue: str) -> None:
    body = message.body[:2048]
    try:
        if isinstance(exc, PermanentError):
            log.error("dead-lettering a message of %s: %s body=%r", queue, exc, body)
            await message.reject()
        else:
            log.error("handler failed on %s; requeued: %r body=%r", queue, exc, body,
                      exc_info=exc)  # fmt: skip
            await message.nack()
    except Exception as settle_exc:  # the channel is gone: the broker redelivers it anyway
        log.warning("could not settle a failed message of %s: %r", queue, settle_exc)


@dataclass(frozen=True)
class QueueSpec:
    name: str
    bindings: Sequence[tuple[str, str]] = ()  # (exchange, routing key)
    durable: bool = True  # durable queues are quorum queues
    exclusive: bool = False  # per-instance queues (websocket gateway)
    delivery_limit: int | None = None
    dead_letters: bool = True  # give it a "<name>.dead" queue; False for a dead-letter queue itself


class Consumer(abc.ABC):
    @abc.abstractmethod
    async def cancel(self) -> None:
        """Stop taking new messages; messages already handed out finish."""


class Bus(abc.ABC):
    def __init__(self) -> None:
        self.held = HeldMessages()  # what its consumers hold unsettled: gauge and readiness

    @abc.abstractmethod
    async def connect(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def declare(self, spec: QueueSpec) -> None:
        """Declare a queue (and its dead-letter queue) with its bindings; idempotent."""

    @abc.abstractmethod
    async def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        *,
        headers: dict[str, Any] | None = None,
        mandatory: bool = False,
        message_id: str | None = None,
    ) -> None:
        """Publish and wait for the broker's confirm; with ``mandatory`` an unroutable
        message raises PermanentError."""

    @abc.abstractmethod
    async def consume_raw(self, spec: QueueSpec, handler: RawHandler, prefetch: int) -> Consumer:
        """Deliver messages to ``handler``, which must ack, nack or reject each one (now or
        later); if it raises, ``deliver`` settles the message. Each is tracked in ``held``."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Raise when the broker is unreachable (readiness)."""

    async def consume(self, spec: QueueSpec, handler: Handler, prefetch: int) -> Consumer:
        """Exceptions decide the outcome (DESIGN §11): return → ack; TransientError → keep
        the message and retry in place with backoff; PermanentError → dead-letter; anything
        else (a bug) → back to the queue, dead-lettered past the delivery limit (the last
        two by ``deliver``, which every transport wraps around a handler)."""

        async def settle(message: Message) -> None:
            attempt = 0
            while True:
                try:
                    await handler(message)
                except TransientError as exc:
                    delay = TRANSIENT_BACKOFF_S[min(attempt, len(TRANSIENT_BACKOFF_S) - 1)]
                    log.warning("transient failure, retrying in %.1fs: %s", delay, exc)
                    attempt += 1
                    await asyncio.sleep(delay)
                    continue
                await message.ack()
                return

        return await self.consume_raw(spec, settle, prefetch)
