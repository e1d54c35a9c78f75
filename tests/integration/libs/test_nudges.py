"""Nudges: many ids per message (split at the cap), parsed back exactly, and a nudge that
cannot be sent is counted and logged, never raised (the sweep finds the work)."""

from __future__ import annotations

import json

import pytest

from libs.common.bus import Message, QueueSpec
from libs.common.bus.amqp import AmqpBus
from libs.common.bus.memory import MemoryBus
from libs.common.bus.nudges import (
    MAX_NUDGE_IDS,
    nudge_processor,
    nudge_sender,
    parse_process_nudge,
)
from libs.common.bus.topology import (
    PROCESS_KEY,
    PROCESS_QUEUE,
    SEND_KEY,
    SEND_QUEUE,
    WORK_EXCHANGE,
)
from libs.common.runtime.errors import PermanentError
from tests.apps import eventually


async def _collect(bus: MemoryBus, queue: str, key: str) -> list[bytes]:
    bodies: list[bytes] = []

    async def keep(message: Message) -> None:
        bodies.append(message.body)

    await bus.consume(QueueSpec(queue, [(WORK_EXCHANGE, key)]), keep, 10)
    return bodies


async def test_long_lists_are_split_at_the_cap_and_read_back_in_order() -> None:
    bus = MemoryBus()
    await bus.connect()
    events = await _collect(bus, PROCESS_QUEUE, PROCESS_KEY)
    deliveries = await _collect(bus, SEND_QUEUE, SEND_KEY)
    ids = [f"e-{n}" for n in range(2 * MAX_NUDGE_IDS + 5)]
    assert await nudge_processor(bus, ids) == 0
    assert await nudge_sender(bus, [1, 2, 3]) == 0
    assert await nudge_processor(bus, []) == 0  # nothing stored: no message at all

    async def arrived() -> bool:
        return len(events) == 3 and len(deliveries) == 1

    await eventually(arrived)
    parts = [parse_process_nudge(body) for body in events]
    assert sorted(map(len, parts)) == [5, MAX_NUDGE_IDS, MAX_NUDGE_IDS]
    assert sorted(i for part in parts for i in part) == sorted(ids)
    assert json.loads(deliveries[0]) == {"delivery_ids": [1, 2, 3]}
    await bus.close()


async def test_a_failed_publish_is_counted_not_raised(
    amqp_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    broken = AmqpBus(amqp_url)  # never connected: every publish fails
    ids = [f"e-{n}" for n in range(MAX_NUDGE_IDS + 1)]
    assert await nudge_processor(broken, ids) == len(ids)
    assert await nudge_sender(broken, [7]) == 1
    assert f"{len(ids)} of {len(ids)} ids not sent" in caplog.text


def test_parse_accepts_both_shapes_and_refuses_the_rest() -> None:
    assert parse_process_nudge(b'{"event_id": "e-1"}') == ["e-1"]
    assert parse_process_nudge(b'{"event_ids": ["e-1", "e-2"]}') == ["e-1", "e-2"]
    too_many = json.dumps({"event_ids": ["e"] * (MAX_NUDGE_IDS + 1)}).encode()
    deep = b'{"event_ids": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"  # RecursionError
    huge = b'{"event_id": ' + b"9" * 5000 + b"}"  # ValueError past Python's 4,300 digits
    bad_bodies = (b"not json", b"[]", b'{"event_ids": []}', b'{"event_ids": "e-1"}', too_many)
    for bad in (*bad_bodies, deep, huge, b"NaN"):
        with pytest.raises(PermanentError, match="malformed nudge"):
            parse_process_nudge(bad)
