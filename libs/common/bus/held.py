"""Messages a consumer holds unsettled: a gauge per queue, the oldest's age, and readiness.

A delivered message that is never acked, nacked or rejected keeps one of its consumer's
prefetch slots for as long as the channel lives. Once the prefetch (200) is used up that way
the consumer gets nothing more, and nothing errs: intake had stopped while ``/readyz`` said
200 (issue 14). Every message a bus hands to a consumer is tracked from delivery to
settlement, so the stall is visible — ``herald_bus_unacked_messages``,
``herald_bus_unacked_oldest_seconds`` — and ``/readyz`` fails once a message has been held
longer than ``HERALD_BUS_UNACKED_LIMIT_S``.
"""

from __future__ import annotations

import itertools
import time
import weakref
from functools import partial
from typing import TYPE_CHECKING

from prometheus_client import Gauge

if TYPE_CHECKING:
    from libs.common.bus.base import Message

UNACKED = Gauge(
    "herald_bus_unacked_messages",
    "Messages delivered to this process's consumers and not yet acked, nacked or rejected",
    ["queue"],
)
UNACKED_OLDEST = Gauge(
    "herald_bus_unacked_oldest_seconds",
    "How long the oldest message still unsettled has been held (0: none held)",
    ["queue"],
)

_LIVE: weakref.WeakSet[HeldMessages] = weakref.WeakSet()  # several buses share a process
_EXPORTED: set[str] = set()


class ConsumerStuck(Exception):
    """A consumer holds messages unsettled past the limit (readiness)."""


class HeldMessages:
    """One per bus: per queue, when each unsettled message was delivered, oldest first."""

    def __init__(self) -> None:
        self._since: dict[str, dict[int, float]] = {}
        self._keys = itertools.count()
        _LIVE.add(self)

    def take(self, queue: str, message: Message) -> None:
        """Track ``message`` until it is settled (``Message`` calls back, once)."""
        since = self._since.setdefault(queue, {})
        _export(queue)
        key = next(self._keys)
        since[key] = time.monotonic()
        message._release = partial(since.pop, key, None)

    def forget(self) -> None:
        """The connection is closed: the broker takes every unsettled message back."""
        for since in self._since.values():
            since.clear()

    def count(self, queue: str) -> int:
        return len(self._since.get(queue, ()))

    def oldest_s(self, queue: str) -> float:
        since = self._since.get(queue)
        if not since:
            return 0.0
        return time.monotonic() - next(iter(since.values()))  # insertion order: oldest first

    async def check(self, limit_s: float) -> None:
        """Readiness: raise ``ConsumerStuck`` naming every queue with a message held longer
        than ``limit_s``."""
        now = time.monotonic()
        stuck = []
        for queue, since in self._since.items():
            overdue = list(itertools.takewhile(lambda t: now - t > limit_s, since.values()))
            if overdue:
                stuck.append(
                    f"{queue}: {len(overdue)} message{'s' * (len(overdue) > 1)} held unacked "
                    f"for over {limit_s:g} s (oldest {now - overdue[0]:.0f} s)"
                )
        if stuck:
            raise ConsumerStuck("; ".join(stuck))


def _export(queue: str) -> None:
    """Gauges read at scrape time, summed over every bus of the process (``herald dev`` runs
    five services in one)."""
    if queue in _EXPORTED:
        return
    _EXPORTED.add(queue)
    UNACKED.labels(queue).set_function(lambda: sum(h.count(queue) for h in _LIVE))
    UNACKED_OLDEST.labels(queue).set_function(
        lambda: max((h.oldest_s(queue) for h in _LIVE), default=0.0)
    )
