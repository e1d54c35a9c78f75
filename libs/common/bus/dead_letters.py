"""Dead letters: count what waits in ``<queue>.dead`` and re-drive it once the cause is fixed.

A message lands in ``<queue>.dead`` when it failed more often than the quorum queue's delivery
limit (a bug, not an outage). ``replay`` moves each message back to the queue it died in —
through the default exchange, so only that queue gets it again, not every queue bound to
``herald.events`` — with publisher confirms, and acks the dead copy only after the broker
confirmed the new one: a crash mid-replay duplicates at worst, and ingest stores a repeat of
(tenant, source, id) once.

One implementation for ``herald dlq`` and the admin's dead-letters page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from libs.common.bus.origin import ORIGIN_HEADERS, replay_origin
from libs.common.bus.topology import dead_letter_queue

if TYPE_CHECKING:  # aio-pika loads only when dead letters are handled, not for every import
    from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue

CONFIRM_TIMEOUT_S = 10.0
REPLAYED_HEADER = "x-herald-replayed"  # how many times this message was re-driven
# set by RabbitMQ when dead-lettering or redelivering; a replayed message starts afresh
_BROKER_HEADERS = ("x-death", "x-delivery-count")
_BROKER_PREFIXES = ("x-first-death-", "x-last-death-")


class DeadLetterError(Exception):
    """The queue does not exist, or a replayed message could not be published."""


async def count(amqp_url: str, queue: str) -> int:
    """How many messages wait in ``<queue>.dead``."""
    import aio_pika

    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        dead = await _passive(channel, dead_letter_queue(queue))
        return int(dead.declaration_result.message_count or 0)


async def replay(amqp_url: str, queue: str, limit: int | None = None) -> int:
    """Re-drive up to ``limit`` messages (never more than were dead when it started, so a
    message that dies again during the replay is not replayed in a loop)."""
    import aio_pika

    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        await _passive(channel, queue)
        dead = await _passive(channel, dead_letter_queue(queue))
        budget = int(dead.declaration_result.message_count or 0)
        if limit is not None:
            budget = min(budget, limit)
        moved = 0
        while moved < budget:
            message = await dead.get(no_ack=False, fail=False)
            if message is None:
                break
            await _redrive(channel, queue, message)
            moved += 1
        return moved


async def _redrive(channel: AbstractChannel, queue: str, message: AbstractIncomingMessage) -> None:
    import aio_pika

    copy = aio_pika.Message(
        message.body,
        headers=replay_headers(dict(message.headers or {}), message.user_id),
        content_type=message.content_type,
        message_id=message.message_id,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )
    try:
        await channel.default_exchange.publish(
            copy, routing_key=queue, mandatory=True, timeout=CONFIRM_TIMEOUT_S
        )
    except Exception as exc:
        await message.nack(requeue=True)  # keep it dead rather than lose it
        raise DeadLetterError(f"publishing to {queue} failed: {exc!r}") from exc
    await message.ack()


def replay_headers(headers: dict[str, Any], user_id: str | None) -> dict[str, Any]:
    """Fresh headers that keep the first publisher and routing key (``origin.py``): the
    replay reaches the queue as the operator, and ingest judges the event by its producer."""
    kept = {k: v for k, v in fresh_headers(headers).items() if k not in ORIGIN_HEADERS}
    return kept | replay_origin(headers, user_id)


def fresh_headers(headers: dict[str, Any]) -> dict[str, Any]:
    """The headers without the broker's death records, with the replay counted."""
    kept = {
        key: value
        for key, value in headers.items()
        if key not in _BROKER_HEADERS and not key.startswith(_BROKER_PREFIXES)
    }
    previous = kept.get(REPLAYED_HEADER, 0)
    kept[REPLAYED_HEADER] = (previous if isinstance(previous, int) else 0) + 1
    return kept


async def _passive(channel: AbstractChannel, name: str) -> AbstractQueue:
    from aio_pika.exceptions import ChannelClosed

    try:
        return await channel.declare_queue(name, passive=True)
    except ChannelClosed as exc:
        raise DeadLetterError(f"queue {name!r} does not exist on this broker/vhost") from exc
