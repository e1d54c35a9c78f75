"""No exception from a consumer's handler leaves its message unsettled (issue 14), on both
buses: the wrapper that calls the handler settles it by the error hierarchy. And a message a
consumer does hold unsettled is visible: a gauge per queue, and a readiness check that fails
once one has been held past the limit."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from prometheus_client import REGISTRY

from libs.common.bus import Bus, Message, QueueSpec
from libs.common.bus.held import ConsumerStuck
from libs.common.bus.memory import MemoryBus
from libs.common.bus.topology import DLX_EXCHANGE, EVENTS_EXCHANGE, dead_letter_queue
from libs.common.runtime.errors import PermanentError, TransientError
from tests.apps import eventually

WAIT_S = 10.0


class Surprise(Exception):
    """Not part of Herald's hierarchy: a bug."""


def _spec() -> QueueSpec:
    """A queue of its own per test: the gauge is per queue name across the process."""
    name = f"t.settle.{uuid.uuid4().hex[:8]}"
    return QueueSpec(name, bindings=[(EVENTS_EXCHANGE, f"{name}.#")])


async def _publish(bus: Bus, spec: QueueSpec, body: bytes) -> None:
    await bus.declare(spec)
    await bus.publish(EVENTS_EXCHANGE, f"{spec.name}.x", body, mandatory=True)


def _gauge(name: str, queue: str) -> float:
    return REGISTRY.get_sample_value(name, {"queue": queue}) or 0.0


@pytest.mark.parametrize(
    "error",
    [
        ValueError("Exceeds the limit (4300 digits) for integer string conversion"),
        RecursionError("maximum recursion depth exceeded"),
        Surprise("a bug"),
        TransientError("an outage the handler did not wait out"),
        asyncio.CancelledError(),
    ],
    ids=lambda e: type(e).__name__,
)
async def test_a_raw_handler_that_raises_gets_its_message_back(
    bus: Bus, error: BaseException
) -> None:
    """Anything but PermanentError is nacked: the message comes back with its delivery count
    up (and past the queue's delivery limit it is dead-lettered). With prefetch 1, a message
    left unsettled would block the consumer for good."""
    spec = _spec()
    await _publish(bus, spec, b"m")
    counts: list[int] = []
    done = asyncio.Event()

    async def handler(message: Message) -> None:
        counts.append(message.delivery_count)
        if len(counts) == 1:
            raise error
        await message.ack()
        done.set()

    consumer = await bus.consume_raw(spec, handler, prefetch=1)
    await asyncio.wait_for(done.wait(), WAIT_S)
    await consumer.cancel()
    assert counts == [0, 1]
    assert bus.held.count(spec.name) == 0


async def test_a_raw_handler_raising_permanent_error_dead_letters_at_once(bus: Bus) -> None:
    spec = _spec()
    await _publish(bus, spec, b"garbage")
    seen: list[bytes] = []

    async def handler(message: Message) -> None:
        seen.append(message.body)
        raise PermanentError("retrying cannot help")

    consumer = await bus.consume_raw(spec, handler, prefetch=1)
    await eventually(lambda: _dead_letters_at(bus, spec, 1), timeout_s=WAIT_S)
    await consumer.cancel()
    assert seen == [b"garbage"]  # not redelivered first
    assert bus.held.count(spec.name) == 0


async def test_a_held_message_shows_in_the_gauge_and_fails_readiness_past_the_limit(
    bus: Bus,
) -> None:
    spec = _spec()
    held: list[Message] = []

    async def hold(message: Message) -> None:  # a raw handler that settles later
        held.append(message)

    consumer = await bus.consume_raw(spec, hold, prefetch=10)
    for body in (b"one", b"two"):
        await _publish(bus, spec, body)

    async def both_held() -> bool:
        return len(held) == 2

    await eventually(both_held, timeout_s=WAIT_S)
    assert _gauge("herald_bus_unacked_messages", spec.name) == 2
    await bus.held.check(limit_s=60.0)  # held, but not for long: ready
    await asyncio.sleep(0.3)
    assert _gauge("herald_bus_unacked_oldest_seconds", spec.name) >= 0.3
    stuck = rf"{spec.name}: 2 messages held unacked for over 0.2 s"
    with pytest.raises(ConsumerStuck, match=stuck):
        await bus.held.check(limit_s=0.2)

    await held[0].ack()
    await held[1].reject()
    assert _gauge("herald_bus_unacked_messages", spec.name) == 0
    assert _gauge("herald_bus_unacked_oldest_seconds", spec.name) == 0
    await bus.held.check(limit_s=0.2)
    await consumer.cancel()


async def _dead_letters_at(bus: Bus, spec: QueueSpec, n: int) -> bool:
    if isinstance(bus, MemoryBus):
        return len(bus.dead.get(spec.name, [])) == n
    dead = dead_letter_queue(spec.name)
    got: list[Message] = []

    async def keep(message: Message) -> None:
        got.append(message)

    consumer = await bus.consume(
        QueueSpec(dead, bindings=[(DLX_EXCHANGE, dead)], dead_letters=False), keep, prefetch=10
    )
    await asyncio.sleep(0.2)
    await consumer.cancel()
    return len(got) == n
