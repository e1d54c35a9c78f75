"""Both buses honour one contract: routing, confirms, mandatory, ack/nack/dead-letter."""

from __future__ import annotations

import asyncio

import pytest

from libs.common.bus import Bus, Message, QueueSpec
from libs.common.bus.memory import MemoryBus
from libs.common.bus.topology import DLX_EXCHANGE, EVENTS_EXCHANGE, dead_letter_queue, topic_matches
from libs.common.runtime.errors import PermanentError


def test_topic_matching() -> None:
    assert topic_matches("tenders.#", "tenders.tender.created")
    assert topic_matches("#", "a.b.c")
    assert topic_matches("*.tender.*", "tenders.tender.created")
    assert not topic_matches("*.tender", "tenders.tender.created")
    assert topic_matches("tenders.tender.created", "tenders.tender.created")
    assert not topic_matches("approvals.#", "tenders.tender.created")


async def collect(bus: Bus, spec: QueueSpec, n: int, outcome: str = "ok") -> list[Message]:
    got: list[Message] = []
    done = asyncio.Event()

    async def handler(msg: Message) -> None:
        got.append(msg)
        if len(got) >= n:
            done.set()
        if outcome == "permanent":
            raise PermanentError("bad message")

    consumer = await bus.consume(spec, handler, prefetch=10)
    await asyncio.wait_for(done.wait(), 10)
    await consumer.cancel()
    return got


async def test_routing_and_consume(bus: Bus) -> None:
    spec = QueueSpec("t.routing", bindings=[(EVENTS_EXCHANGE, "tenders.#")])
    await bus.declare(spec)
    await bus.publish(EVENTS_EXCHANGE, "approvals.x", b"skip")
    await bus.publish(EVENTS_EXCHANGE, "tenders.tender.created", b"one", mandatory=True)
    got = await collect(bus, spec, 1)
    assert [m.body for m in got] == [b"one"]


async def test_mandatory_unroutable_raises(bus: Bus) -> None:
    with pytest.raises(PermanentError, match="unroutable"):
        await bus.publish(EVENTS_EXCHANGE, "nobody.listens", b"x", mandatory=True)


async def test_permanent_error_dead_letters(bus: Bus) -> None:
    spec = QueueSpec("t.dead", bindings=[(EVENTS_EXCHANGE, "d.#")])
    await bus.declare(spec)
    await bus.publish(EVENTS_EXCHANGE, "d.x", b"poison")
    await collect(bus, spec, 1, outcome="permanent")
    dead_spec = QueueSpec(
        dead_letter_queue("t.dead"), bindings=[(DLX_EXCHANGE, "t.dead.dead")], dead_letters=False
    )
    if isinstance(bus, MemoryBus):
        assert [m.body for m in bus.dead["t.dead"]] == [b"poison"]
    else:
        got = await collect(bus, dead_spec, 1)
        assert got[0].body == b"poison"
