"""A circuit breaker per channel's provider (DESIGN §6): a provider that is down as a whole
defers its deliveries instead of spending their attempts.

Closed: deliveries go out. ``HERALD_SENDER_BREAKER_FAILURES`` consecutive ``ProviderUnavailable``
(connection refused, timed out, the broker down) open it: the channel's deliveries are no
longer claimed, and those in hand go back to PENDING, due at the next probe, their attempt given
back. Every ``HERALD_SENDER_BREAKER_PROBE_S`` one delivery is let through as a probe (half
open); the others wait a moment for its answer. Any answer from the provider — sent, or a
refusal of that one message — closes the breaker; another ``ProviderUnavailable`` opens it
again. A delivery that fails on its own merits (a bad address) still fails: the provider spoke.

Per sender process; the clock is injectable (monotonic seconds) so tests can pass an hour.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum

from pydantic import Field

from libs.common.runtime.settings import HeraldSettings
from services.sender import metrics as m

UNAVAILABLE_BACKOFF_S = 5.0  # before the breaker opens: a short pause, no attempt spent
PROBE_ANSWER_WAIT_S = 5.0  # while a probe is out, the others look again this much later


class State(IntEnum):  # the gauge's values
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class BreakerSettings(HeraldSettings):
    sender_breaker_failures: int = Field(
        default=5, ge=1, description="consecutive 'provider unreachable' errors that open it"
    )
    sender_breaker_probe_s: float = Field(
        default=30.0, gt=0, description="while open, one delivery probes the provider this often"
    )


@dataclass
class Breaker:
    channel: str
    failures_to_open: int
    probe_every_s: float
    clock: Callable[[], float] = time.monotonic
    state: State = State.CLOSED
    failures: int = 0
    probe_at: float = 0.0
    _probing: bool = field(default=False, repr=False)

    def admit(self) -> float | None:
        """None: send it now; else wait this many seconds (not an attempt)."""
        now = self.clock()
        if self.state is State.CLOSED:
            return None
        if self.state is State.OPEN and now >= self.probe_at:
            self._set(State.HALF_OPEN)
            self._probing = True
            return None  # this delivery is the probe
        if self.state is State.HALF_OPEN:
            return PROBE_ANSWER_WAIT_S
        return self.probe_at - now

    def skipped(self) -> bool:
        """Open with no probe due: the claim leaves the channel's deliveries alone."""
        return self.state is State.OPEN and self.clock() < self.probe_at

    def answered(self) -> None:
        """The provider spoke (sent, or refused this one message): it is there."""
        self.failures = 0
        self._probing = False
        if self.state is not State.CLOSED:
            self._set(State.CLOSED)

    def released(self) -> None:
        """A probe that never reached the provider (rate limit, a bug): probe again now."""
        if self.state is State.HALF_OPEN and self._probing:
            self._probing = False
            self.probe_at = self.clock()
            self._set(State.OPEN)

    def unavailable(self) -> float:
        """The provider was unreachable; returns how long this delivery should wait."""
        self.failures += 1
        if self.state is State.HALF_OPEN or self.failures >= self.failures_to_open:
            self._open()
        if self.state is State.OPEN:
            return max(self.probe_at - self.clock(), 0.0)
        return UNAVAILABLE_BACKOFF_S

    def _open(self) -> None:
        self._probing = False
        self.probe_at = self.clock() + self.probe_every_s
        self._set(State.OPEN)

    def _set(self, state: State) -> None:
        if state is State.OPEN and self.state is not State.OPEN:
            m.BREAKER_OPENED.labels(self.channel).inc()
        self.state = state
        m.BREAKER_STATE.labels(self.channel).set(int(state))


class Breakers:
    """One breaker per channel, made on first use."""

    def __init__(self, settings: BreakerSettings, clock: Callable[[], float] = time.monotonic):
        self._s, self._clock = settings, clock
        self._by_channel: dict[str, Breaker] = {}

    def __getitem__(self, channel: str) -> Breaker:
        found = self._by_channel.get(channel)
        if found is None:
            found = self._by_channel[channel] = Breaker(
                channel, self._s.sender_breaker_failures, self._s.sender_breaker_probe_s,
                self._clock,
            )  # fmt: skip
            m.BREAKER_STATE.labels(channel).set(int(State.CLOSED))
        return found

    def skipped_channels(self) -> frozenset[str]:
        return frozenset(ch for ch, b in self._by_channel.items() if b.skipped())
