"""The circuit breaker's states (pure logic, a hand-moved clock): open after N unreachable,
skip the claim while open, one probe when due, closed by any answer of the provider."""

from __future__ import annotations

from prometheus_client import REGISTRY

from services.sender.breaker import PROBE_ANSWER_WAIT_S, Breaker, Breakers, BreakerSettings, State


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def state(breaker: Breaker) -> State:
    return breaker.state


def make() -> tuple[Breakers, Clock]:
    clock = Clock()
    settings = BreakerSettings(sender_breaker_failures=3, sender_breaker_probe_s=30)
    return Breakers(settings, clock), clock


def test_opens_after_consecutive_unreachables_and_an_answer_resets_the_count() -> None:
    breakers, _clock = make()
    sms = breakers["sms"]
    assert sms.admit() is None
    sms.unavailable(), sms.unavailable()
    sms.answered()  # the gateway spoke (even a 400 for one message): it is there
    assert sms.unavailable() == 5.0 and state(sms) is State.CLOSED  # a short pause, no attempt
    sms.unavailable()
    assert sms.unavailable() == 30.0 and state(sms) is State.OPEN
    assert breakers.skipped_channels() == {"sms"}
    gauge = REGISTRY.get_sample_value("herald_sender_breaker_state", {"channel": "sms"})
    assert gauge == 2  # what HeraldProviderUnreachable watches
    assert state(breakers["email"]) is State.CLOSED  # per channel


def test_one_probe_when_due_the_others_wait_for_its_answer() -> None:
    breakers, clock = make()
    sms = breakers["sms"]
    for _ in range(3):
        sms.unavailable()
    clock.now += 10
    assert sms.admit() == 20.0  # until the probe
    clock.now += 20
    assert breakers.skipped_channels() == frozenset()  # the claim may take one again
    assert sms.admit() is None and state(sms) is State.HALF_OPEN  # the probe
    assert sms.admit() == PROBE_ANSWER_WAIT_S
    assert sms.unavailable() == 30.0 and state(sms) is State.OPEN  # still down: next in 30 s
    clock.now += 30
    assert sms.admit() is None
    sms.answered()
    assert state(sms) is State.CLOSED and sms.admit() is None


def test_a_probe_that_never_reached_the_provider_probes_again() -> None:
    breakers, clock = make()
    sms = breakers["sms"]
    for _ in range(3):
        sms.unavailable()
    clock.now += 30
    assert sms.admit() is None  # the probe, then held by a rate limit
    sms.released()
    assert state(sms) is State.OPEN and sms.admit() is None  # a new probe at once
