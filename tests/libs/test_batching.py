"""take_batch: alone when quiet, everything waiting (up to the cap) when busy, and a lingering
batch closes as soon as it is full."""

from __future__ import annotations

import asyncio

from libs.common.batching import take_batch


async def test_quiet_one_item_goes_alone() -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    queue.put_nowait(1)
    assert await take_batch(queue, 100, 0.0) == [1]


async def test_busy_takes_what_waits_up_to_the_cap_in_order() -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(250):
        queue.put_nowait(n)
    assert await take_batch(queue, 100, 0.0) == list(range(100))
    assert await take_batch(queue, 100, 0.0) == list(range(100, 200))
    assert await take_batch(queue, 100, 0.0) == list(range(200, 250))
    assert queue.empty()


async def test_a_full_batch_does_not_wait_out_the_linger() -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()
    taking = asyncio.create_task(take_batch(queue, 3, 3600.0))  # an hour: must not be waited
    for n in range(5):
        await queue.put(n)
        await asyncio.sleep(0)  # let the taker see each item as it arrives
    assert await taking == [0, 1, 2]
    assert [queue.get_nowait() for _ in range(2)] == [3, 4]
