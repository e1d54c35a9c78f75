"""Per-user rate limits for the costly user routes (the subscription preview scans up to 1,000
events and asks the mediator about each object): a token bucket per (tenant, user), in this
process. Several ingest replicas each allow the rate: the limit bounds cost, it is not a quota.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable

from pydantic import Field

from libs.common.runtime.settings import HeraldSettings
from libs.common.security.auth import Principal
from services.ingest.errors import ApiError

# buckets kept at most: idle (full again) ones are dropped first, then the least recently
# used; a dropped key starts with a full burst, so only >100,000 users active at once could
# gain by it
MAX_KEYS = 100_000


class PreviewLimitSettings(HeraldSettings):
    preview_rate_per_s: float = Field(
        default=1.0, gt=0, le=1000, description="subscription previews per user per second"
    )
    preview_burst: int = Field(
        default=5, ge=1, le=1000, description="previews a user may make at once"
    )


class Throttle:
    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate, self._burst, self._clock = rate_per_s, float(burst), clock
        self._buckets: dict[Hashable, tuple[float, float]] = {}  # key → (tokens, at)

    def take(self, key: Hashable) -> float:
        """0 if ``key`` may go now (one token spent), else the seconds until it may."""
        now = self._clock()
        tokens, at = self._buckets.pop(key, (self._burst, now))  # re-inserted: LRU order
        tokens = min(self._burst, tokens + (now - at) * self._rate)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self._rate
        self._buckets[key] = (tokens - 1, now)
        if len(self._buckets) > MAX_KEYS:
            self._forget_idle(now)
        return 0.0

    def _forget_idle(self, now: float) -> None:
        full_after_s = self._burst / self._rate
        for key, (_tokens, at) in list(self._buckets.items()):
            if now - at >= full_after_s:  # its bucket is full again: as good as new
                del self._buckets[key]
        while len(self._buckets) > MAX_KEYS:  # all busy: drop the oldest entries
            del self._buckets[next(iter(self._buckets))]


def limit_preview(throttle: Throttle, user: Principal) -> None:
    """429 with Retry-After (whole seconds, rounded up) past the user's preview rate."""
    wait_s = throttle.take((user.tenant, user.user_id))
    if wait_s > 0:
        raise ApiError(
            429,
            "too many previews; retry later",
            headers={"Retry-After": str(max(1, math.ceil(wait_s)))},
        )
