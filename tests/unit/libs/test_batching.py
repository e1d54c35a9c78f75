"""take_batch: alone when quiet, everything waiting (up to the cap) when busy, and a lingering
batch closes as soon as it is full. batch_then_isolate: a failed batch's items run alone, only
the culprit is charged, and a stop exception ends the walk."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from libs.common.runtime.batching import batch_then_isolate, take_batch


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


class Bad(Exception):
    pass


class Stop(Exception):
    pass


@dataclass
class Runs:
    """Records each run; a run holding a bad item fails as a whole (a rolled-back batch)."""

    bad: set[int] = field(default_factory=set)
    stop: set[int] = field(default_factory=set)
    runs: list[list[int]] = field(default_factory=list)
    done: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    splits: list[tuple[int, str]] = field(default_factory=list)

    async def run(self, items: Sequence[int]) -> None:
        self.runs.append(list(items))
        if self.bad & set(items):
            raise Bad(f"bad among {list(items)}")
        if self.stop & set(items):
            raise Stop("shutting down")
        self.done += items

    async def fail(self, item: int, exc: Exception) -> None:
        self.failed.append((item, str(exc)))

    def split(self, n: int, exc: Exception) -> None:
        self.splits.append((n, str(exc)))

    async def go(self, items: list[int]) -> None:
        await batch_then_isolate(items, self.run, self.fail, splitting=self.split, stop_on=(Stop,))


async def test_a_batch_that_succeeds_runs_once() -> None:
    runs = Runs()
    await runs.go([1, 2, 3])
    assert runs.runs == [[1, 2, 3]] and runs.done == [1, 2, 3]
    assert runs.failed == [] and runs.splits == []


async def test_a_failed_batch_charges_only_its_culprits() -> None:
    runs = Runs(bad={2, 4})
    await runs.go([1, 2, 3, 4])
    assert runs.runs == [[1, 2, 3, 4], [1], [2], [3], [4]]
    assert runs.done == [1, 3]
    assert runs.failed == [(2, "bad among [2]"), (4, "bad among [4]")]
    assert runs.splits == [(4, "bad among [1, 2, 3, 4]")]


async def test_a_failed_batch_of_one_is_charged_without_a_second_run() -> None:
    runs = Runs(bad={7})
    await runs.go([7])
    assert runs.runs == [[7]]
    assert runs.failed == [(7, "bad among [7]")] and runs.splits == []


async def test_a_stop_exception_ends_the_walk_and_propagates() -> None:
    runs = Runs(bad={1}, stop={3})
    with pytest.raises(Stop):
        await runs.go([1, 2, 3, 4])
    assert runs.runs == [[1, 2, 3, 4], [1], [2], [3]]  # 4 never ran
    assert runs.done == [2] and runs.failed == [(1, "bad among [1]")]


async def test_a_stop_exception_on_the_whole_batch_propagates_at_once() -> None:
    runs = Runs(stop={2})
    with pytest.raises(Stop):
        await runs.go([1, 2])
    assert runs.runs == [[1, 2]] and runs.failed == []
