"""Batch acks: one frame covers a batch only when nothing earlier is still in flight, so a
batch committed before an older one never acks the older one's messages by accident."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

import pytest

from libs.common.bus import Message, QueueSpec, make_bus
from libs.common.bus.acks import Unsettled
from libs.common.bus.amqp import AmqpBus
from libs.common.bus.base import ack_all
from libs.common.bus.topology import EVENTS_EXCHANGE
from libs.common.runtime.batching import take_batch
from tests.apps import eventually
from tests.unit.services.ingest.intake_support import queue_depth

N = 20
SPEC = QueueSpec("test.acks", bindings=[(EVENTS_EXCHANGE, "acks.#")], dead_letters=False)


def test_only_what_lies_below_the_oldest_in_flight_is_covered() -> None:
    old, new = object(), object()
    unsettled = Unsettled()
    for tag in range(1, 11):
        unsettled.delivered(old, tag)
        unsettled.delivered(new, tag)  # a new channel after a reconnect: the tags start again
    assert unsettled.top(old, [6, 7, 8, 9, 10]) is None  # 1-5 still in flight
    assert unsettled.top(old, [1, 2, 3]) == 3  # 4-10 in flight: 1-3 only
    assert unsettled.top(old, [1, 2, 3, 8]) == 3  # 8 goes on its own
    for tag in (1, 2, 3, 6, 7, 8, 9, 10):
        unsettled.settled(old, tag)
    assert unsettled.top(old, [4, 5]) == 5  # nothing else left
    assert unsettled.top(new, [2, 9]) is None  # the other channel's 1 is in flight
    unsettled.settled(new, 1)
    unsettled.settled(new, 2)
    assert unsettled.top(new, [3, 4, 10]) == 4  # 5-9 in flight: 10 goes on its own


async def _consume(bus: AmqpBus, got: list[Message]) -> None:
    async def keep(message: Message) -> None:
        got.append(message)

    await bus.consume_raw(SPEC, keep, prefetch=N)


async def _received(got: list[Message], n: int) -> None:
    async def enough() -> bool:
        return len(got) >= n

    await eventually(enough)


@pytest.mark.parametrize("first", ["older", "newer"])
async def test_a_later_batch_never_acks_an_earlier_one(amqp_url: str, first: str) -> None:
    publisher = make_bus(amqp_url)
    await publisher.connect()
    await publisher.declare(SPEC)
    for n in range(N):
        await publisher.publish(EVENTS_EXCHANGE, "acks.x", str(n).encode())
    consumer = AmqpBus(amqp_url)
    await consumer.connect()
    got: list[Message] = []
    await _consume(consumer, got)
    await _received(got, N)
    older, newer = got[: N // 2], got[N // 2 :]
    await ack_all(older if first == "older" else newer)
    await consumer.close()  # the unacked half goes back to the queue
    assert await queue_depth(amqp_url, SPEC.name) == N // 2

    again = AmqpBus(amqp_url)
    await again.connect()
    rest: list[Message] = []
    await _consume(again, rest)
    await _received(rest, N // 2)
    expected = newer if first == "older" else older
    assert sorted(m.body for m in rest) == sorted(m.body for m in expected)
    await ack_all(rest)  # nothing else in flight: one frame acks them all
    acked_alone = [m for m in rest if m._raw[0].processed]
    assert len(acked_alone) == 1  # the others were covered by its "multiple" ack
    await again.close()
    assert await queue_depth(amqp_url, SPEC.name) == 0
    await publisher.close()


async def test_two_flushers_acking_interleaved_batches_keep_the_channel(amqp_url: str) -> None:
    """Two flushers take interleaved batches and ack them concurrently (ingest's shape). A
    tag acked twice — a batch covering another's tag whose own ack is still on its way —
    makes RabbitMQ close the channel and redeliver everything unacked: none of that here."""
    total = 1_000
    publisher = make_bus(amqp_url)
    await publisher.connect()
    await publisher.declare(SPEC)
    for start in range(0, total, 250):
        await asyncio.gather(
            *(publisher.publish(EVENTS_EXCHANGE, "acks.x", b"m") for _ in range(start, start + 250))
        )
    consumer = AmqpBus(amqp_url)
    await consumer.connect()
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    got: list[Message] = []

    async def keep(message: Message) -> None:
        got.append(message)
        inbox.put_nowait(message)

    await consumer.consume_raw(SPEC, keep, prefetch=200)

    acked = 0

    async def flusher(seed: int) -> None:
        nonlocal acked
        rng = random.Random(seed)
        while True:
            batch = await take_batch(inbox, 100, 0.002)
            await asyncio.sleep(rng.random() / 500)  # commits finish in any order
            await ack_all(batch)
            acked += len(batch)

    async def all_acked() -> bool:  # not merely taken: a loaded machine may still be acking
        return acked >= total

    flushers = [asyncio.create_task(flusher(seed)) for seed in (1, 2)]
    await _received(got, total)
    await eventually(all_acked)
    await eventually(_is_empty(inbox))
    for task in flushers:
        task.cancel()
    await asyncio.gather(*flushers, return_exceptions=True)
    await consumer.close()
    assert len(got) == total  # nothing redelivered: the channel was never closed
    assert await queue_depth(amqp_url, SPEC.name) == 0  # and everything was acked
    await publisher.close()


def _is_empty(inbox: asyncio.Queue[Message]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        await asyncio.sleep(0.05)  # the last batch's acks leave
        return inbox.empty()

    return check
