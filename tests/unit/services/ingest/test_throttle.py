"""The per-user token bucket behind the preview's rate limit (pure logic, a fake clock)."""

from __future__ import annotations

import pytest

from services.ingest.user_api import throttle
from services.ingest.user_api.throttle import Throttle


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_sustained_rate_and_the_wait_it_names() -> None:
    clock = Clock()
    bucket = Throttle(rate_per_s=2.0, burst=3, clock=clock)
    assert [bucket.take("bob") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take("bob") == 0.5  # one token comes back every 0.5 s
    assert bucket.take("alice") == 0.0, "buckets are per key"
    clock.now += 0.5
    assert bucket.take("bob") == 0.0
    assert bucket.take("bob") == 0.5
    clock.now += 10
    assert [bucket.take("bob") for _ in range(4)] == [0.0, 0.0, 0.0, 0.5], "refills to the burst"


def test_memory_stays_bounded_and_idle_keys_go_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(throttle, "MAX_KEYS", 10)
    clock = Clock()
    bucket = Throttle(rate_per_s=1.0, burst=2, clock=clock)
    for i in range(10):
        bucket.take(f"idle-{i}")
    clock.now += 5  # their buckets are full again: as good as forgotten
    bucket.take("busy")  # the 11th key: the idle ones go
    bucket.take("busy")
    assert bucket.take("busy") > 0
    for i in range(9):
        bucket.take(f"new-{i}")
    assert len(bucket._buckets) == 10
    assert bucket.take("busy") > 0, "a busy key is not reset by the clean-up"
    for i in range(9, 30):  # all busy: the least recently used go
        bucket.take(f"new-{i}")
    assert len(bucket._buckets) == 10
    assert "new-29" in bucket._buckets and "new-0" not in bucket._buckets
