"""``herald dlq``: look at and re-drive dead-lettered messages.

A message lands in ``<queue>.dead`` when it failed more often than the quorum queue's delivery
limit (a bug, not an outage). Once the bug is fixed, ``herald dlq replay`` moves each message
back to the queue it died in — through the default exchange, so only that queue gets it again,
not every queue bound to ``herald.events`` — with publisher confirms, and acks the dead copy
only after the broker confirmed the new one: a crash mid-replay duplicates at worst, and
ingest stores a repeat of (tenant, source, id) once.
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:  # aio-pika loads only when a dlq command runs, not for every `herald` call
    from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue

from libs.common.bus.topology import INGEST_QUEUE, dead_letter_queue

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1/"
CONFIRM_TIMEOUT_S = 10.0
REPLAYED_HEADER = "x-herald-replayed"  # how many times this message was re-driven
# set by RabbitMQ when dead-lettering or redelivering; a replayed message starts afresh
_BROKER_HEADERS = ("x-death", "x-delivery-count")
_BROKER_PREFIXES = ("x-first-death-", "x-last-death-")

app = typer.Typer(help="Dead-lettered messages: count and replay.", no_args_is_help=True)

AmqpUrl = Annotated[str, typer.Option("--amqp-url", help="broker URL (default: HERALD_AMQP_URL)")]
QueueName = Annotated[str, typer.Option("--queue", help="the queue whose dead letters to handle")]


def _url(amqp_url: str) -> str:
    return amqp_url or os.environ.get("HERALD_AMQP_URL", DEFAULT_AMQP_URL)


@app.command("count")
def count_command(queue: QueueName = INGEST_QUEUE, amqp_url: AmqpUrl = "") -> None:
    """How many messages wait in <queue>.dead."""
    try:
        waiting = asyncio.run(count(_url(amqp_url), queue))
    except DlqError as exc:
        typer.echo(f"cannot count: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"{dead_letter_queue(queue)}: {waiting}")


@app.command("replay")
def replay_command(
    queue: QueueName = INGEST_QUEUE,
    limit: Annotated[int | None, typer.Option(help="replay at most this many")] = None,
    amqp_url: AmqpUrl = "",
) -> None:
    """Move messages from <queue>.dead back to <queue> (fix the cause first)."""
    try:
        moved = asyncio.run(replay(_url(amqp_url), queue, limit))
    except DlqError as exc:
        typer.echo(f"not replayed: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(f"replayed {moved} message(s) from {dead_letter_queue(queue)} to {queue}")


class DlqError(Exception):
    pass


async def count(amqp_url: str, queue: str) -> int:
    import aio_pika

    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        dead = await _dead_queue(channel, queue)
        return int(dead.declaration_result.message_count or 0)


async def replay(amqp_url: str, queue: str, limit: int | None = None) -> int:
    """Re-drive up to ``limit`` messages (never more than were dead when it started, so a
    message that dies again during the replay is not replayed in a loop)."""
    import aio_pika

    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        await _live_queue(channel, queue)
        dead = await _dead_queue(channel, queue)
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
        headers=_fresh_headers(dict(message.headers or {})),
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
        raise DlqError(f"publishing to {queue} failed: {exc!r}") from exc
    await message.ack()


def _fresh_headers(headers: dict[str, Any]) -> dict[str, Any]:
    kept = {
        key: value
        for key, value in headers.items()
        if key not in _BROKER_HEADERS and not key.startswith(_BROKER_PREFIXES)
    }
    previous = kept.get(REPLAYED_HEADER, 0)
    kept[REPLAYED_HEADER] = (previous if isinstance(previous, int) else 0) + 1
    return kept


async def _dead_queue(channel: AbstractChannel, queue: str) -> AbstractQueue:
    return await _passive(channel, dead_letter_queue(queue))


async def _live_queue(channel: AbstractChannel, queue: str) -> AbstractQueue:
    return await _passive(channel, queue)


async def _passive(channel: AbstractChannel, name: str) -> AbstractQueue:
    from aio_pika.exceptions import ChannelClosed

    try:
        return await channel.declare_queue(name, passive=True)
    except ChannelClosed as exc:
        raise DlqError(f"queue {name!r} does not exist on this broker/vhost") from exc
