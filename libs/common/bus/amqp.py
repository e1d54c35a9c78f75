"""RabbitMQ through aio-pika: durable exchanges, quorum queues, confirms, dead letters."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractRobustConnection,
    ExchangeType,
)
from aio_pika.exceptions import ChannelNotFoundEntity, DeliveryError

from libs.common.bus import topology as t
from libs.common.bus.acks import AmqpAcker
from libs.common.bus.base import Bus, Consumer, Message, QueueSpec, RawHandler, deliver
from libs.common.runtime.errors import PermanentError, TransientError
from libs.common.security.principals import broker_user

log = logging.getLogger("herald.bus.amqp")

EXCHANGES: dict[str, ExchangeType] = {
    t.EVENTS_EXCHANGE: ExchangeType.TOPIC,
    t.WORK_EXCHANGE: ExchangeType.DIRECT,
    t.BROWSER_EXCHANGE: ExchangeType.FANOUT,
    t.ACCEPTED_EXCHANGE: ExchangeType.TOPIC,
    t.DLX_EXCHANGE: ExchangeType.DIRECT,
}
CONFIRM_TIMEOUT_S = 10.0


class _AmqpConsumer(Consumer):
    def __init__(self, channel: AbstractChannel, queue: aio_pika.abc.AbstractQueue, tag: str):
        self._channel, self._queue, self._tag = channel, queue, tag

    async def cancel(self) -> None:
        try:
            await self._queue.cancel(self._tag)
        except Exception as exc:  # the channel may already be gone; nothing to stop then
            log.debug("cancel on a closed channel: %s", exc)


class AmqpBus(Bus):
    def __init__(self, url: str, *, producer: bool = False) -> None:
        """``producer=True`` (``EventProducer``): find Herald's exchanges instead of declaring
        them, since a producer's broker user may only write to ``herald.events`` (a passive
        declare needs no rights), and stamp each message with that user (``user_id``, which
        RabbitMQ checks and ingest maps to a principal, DESIGN §3.1)."""
        super().__init__()
        self._url = url
        self._producer = producer
        self._user_id = broker_user(url) if producer else None
        self._conn: AbstractRobustConnection | None = None
        self._pub: AbstractChannel | None = None
        self._exchanges: dict[str, aio_pika.abc.AbstractExchange] = {}
        self._lock = asyncio.Lock()

    async def connect(self) -> None:
        self._conn = await aio_pika.connect_robust(self._url, client_properties={"app": "herald"})
        self._pub = await self._conn.channel(publisher_confirms=True, on_return_raises=True)
        if self._producer:
            self._exchanges[t.EVENTS_EXCHANGE] = await _find_events_exchange(self._pub)
            return
        for name, kind in EXCHANGES.items():
            self._exchanges[name] = await self._pub.declare_exchange(name, kind, durable=True)

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
        self.held.forget()  # the broker requeued whatever was still unsettled

    @property
    def connection(self) -> AbstractRobustConnection:
        if self._conn is None:
            raise RuntimeError("bus not connected; call connect() in the lifespan")
        return self._conn

    async def declare(self, spec: QueueSpec) -> None:
        channel = await self.connection.channel()
        try:
            await self._declare_on(channel, spec)
        finally:
            await channel.close()

    async def _declare_on(
        self, channel: AbstractChannel, spec: QueueSpec
    ) -> aio_pika.abc.AbstractQueue:
        args: dict[str, Any] = {}
        if spec.durable and not spec.exclusive:
            args["x-queue-type"] = "quorum"
        if spec.durable and not spec.exclusive and spec.dead_letters:
            dead = t.dead_letter_queue(spec.name)
            dlx = await channel.declare_exchange(t.DLX_EXCHANGE, ExchangeType.DIRECT, durable=True)
            dlq = await channel.declare_queue(
                dead, durable=True, arguments={"x-queue-type": "quorum"}
            )
            await dlq.bind(dlx, routing_key=dead)
            args |= {
                "x-dead-letter-exchange": t.DLX_EXCHANGE,
                "x-dead-letter-routing-key": dead,
                "x-delivery-limit": spec.delivery_limit or t.DELIVERY_LIMIT,
            }
        queue = await channel.declare_queue(
            spec.name if spec.name else None,
            durable=spec.durable and not spec.exclusive,
            exclusive=spec.exclusive,
            auto_delete=spec.exclusive,
            arguments=args,
        )
        for exchange, key in spec.bindings:
            ex = await channel.declare_exchange(exchange, EXCHANGES[exchange], durable=True)
            await queue.bind(ex, routing_key=key)
        return queue

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
        if exchange not in self._exchanges:
            raise PermanentError(f"unknown exchange {exchange!r}")
        message = aio_pika.Message(
            body,
            headers=headers or {},
            message_id=message_id,
            user_id=self._user_id,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        try:
            await self._exchanges[exchange].publish(
                message, routing_key=routing_key, mandatory=mandatory, timeout=CONFIRM_TIMEOUT_S
            )
        except DeliveryError as exc:
            raise PermanentError(
                f"unroutable: no queue bound for {exchange}/{routing_key}"
            ) from exc
        except (TimeoutError, aio_pika.exceptions.AMQPError, ConnectionError) as exc:
            raise TransientError(f"publish to {exchange} failed: {exc!r}") from exc

    async def consume_raw(self, spec: QueueSpec, handler: RawHandler, prefetch: int) -> Consumer:
        channel = await self.connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        queue = await self._declare_on(channel, spec)

        acker = AmqpAcker()  # lets a batch of this consumer's messages be acked in one frame

        async def on_message(incoming: AbstractIncomingMessage) -> None:
            message = _wrap(incoming, spec.name, acker)
            self.held.take(spec.name, message)
            await deliver(handler, message, spec.name)

        tag = await queue.consume(on_message)
        return _AmqpConsumer(channel, queue, tag)

    async def ping(self) -> None:
        if self._conn is None or self._conn.is_closed:
            raise TransientError("AMQP connection is closed")
        # a robust connection is never "closed" while it reconnects: ask whether it is up
        if not self._conn.connected.is_set():
            raise TransientError("AMQP connection lost; reconnecting")


async def _find_events_exchange(channel: AbstractChannel) -> aio_pika.abc.AbstractExchange:
    try:
        return await channel.get_exchange(t.EVENTS_EXCHANGE)  # passive: needs no rights
    except ChannelNotFoundEntity as exc:
        raise PermanentError(
            f"{t.EVENTS_EXCHANGE} does not exist on this broker/vhost: start Herald first"
        ) from exc


def _wrap(incoming: AbstractIncomingMessage, queue: str, acker: AmqpAcker) -> Message:
    channel, tag = incoming.channel, incoming.delivery_tag or 0
    acker.unsettled.delivered(channel, tag)

    async def settle(what: str) -> None:
        try:
            if what == "ack":
                await incoming.ack()
            elif what == "nack":
                await incoming.nack(requeue=True)
            else:
                await incoming.reject(requeue=False)
        finally:  # after the frame: a batch ack meanwhile must not cover this tag too
            acker.unsettled.settled(channel, tag)

    return Message(
        body=incoming.body,
        routing_key=incoming.routing_key or "",
        exchange=incoming.exchange or "",
        headers=dict(incoming.headers or {}),
        redelivered=bool(incoming.redelivered),
        message_id=incoming.message_id,
        user_id=incoming.user_id,
        _settle=settle,
        _acker=acker,
        _raw=(incoming, channel),
    )
