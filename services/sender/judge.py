"""What a provider's error makes of a delivery (the provider contract in
``providers/base.py``), and what it tells the channel's circuit breaker."""

from __future__ import annotations

import logging

from services.sender import metrics as m
from services.sender.breaker import Breaker
from services.sender.claim import Claimed
from services.sender.outcome import Outcome, deferred, failed, retry, unreachable
from services.sender.providers.base import (
    ProviderDeferred,
    ProviderPermanentError,
    ProviderTransientError,
    ProviderUnavailable,
    RecipientUnreachable,
)

log = logging.getLogger("herald.sender")


def judge(c: Claimed, exc: Exception, breaker: Breaker, max_attempts: int) -> Outcome:
    if isinstance(exc, ProviderDeferred):  # not tried (a rate limit): the provider said nothing
        breaker.released()
        return deferred(c, exc.delay_s, str(exc))
    if isinstance(exc, ProviderUnavailable):  # the provider is not there: not this one's fault
        m.BREAKER_DEFERRED.labels(c.channel).inc()
        return deferred(c, breaker.unavailable(), f"provider unreachable: {exc}")
    if isinstance(exc, ProviderTransientError | ProviderPermanentError):
        breaker.answered()  # it answered, about this message
        if isinstance(exc, ProviderTransientError):
            return retry(c, str(exc), max_attempts, exc.retry_after_s)
        if isinstance(exc, RecipientUnreachable):
            return unreachable(c, str(exc))
        return failed(c, str(exc))
    # a provider bug or an unforeseen library error: bounded retry
    breaker.released()
    log.error("delivery %s: unexpected error from %s", c.id, c.channel, exc_info=exc)
    return retry(c, f"unexpected {type(exc).__name__}: {exc}", max_attempts)


def held(c: Claimed, wait_s: float) -> Outcome:
    """The breaker is open (or its probe is out): back to PENDING, no attempt spent."""
    m.BREAKER_DEFERRED.labels(c.channel).inc()
    why = f"{c.channel} provider unreachable: circuit breaker open, next look in {wait_s:.0f}s"
    return deferred(c, wait_s, why)
