"""Recording what happened to a delivery, with every attempt kept for the admin's trail."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import Delivery, DeliveryAttempt, DeliveryStatus, utcnow

BACKOFF_BASE_S = 5.0
BACKOFF_CAP_S = 3600.0


def backoff_s(attempt: int, retry_after_s: float | None = None) -> float:
    """Exponential with full jitter: 5 s, 10 s, 20 s … capped at an hour."""
    if retry_after_s is not None:
        return retry_after_s
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(attempt - 1, 0))
    return float(ceiling / 2 + random.uniform(0, ceiling / 2))


async def _finish(
    session: AsyncSession, d: Delivery, outcome: str, error: str | None, **values: object
) -> None:
    session.add(DeliveryAttempt(delivery_id=d.id, attempt=d.attempts, outcome=outcome, error=error))
    # guarded by status: a lease that expired and was re-claimed elsewhere is not overwritten
    await session.execute(
        update(Delivery)
        .where(
            Delivery.id == d.id,
            Delivery.status == DeliveryStatus.SENDING.value,
            Delivery.attempts == d.attempts,
        )
        .values(locked_until=None, last_error=error, **values)
    )


async def mark_sent(session: AsyncSession, d: Delivery, provider_id: str | None) -> None:
    await _finish(
        session,
        d,
        "sent",
        None,
        status=DeliveryStatus.SENT.value,
        provider_message_id=provider_id,
        sent_at=utcnow(),
    )


async def mark_retry(
    session: AsyncSession,
    d: Delivery,
    error: str,
    max_attempts: int,
    retry_after_s: float | None = None,
) -> None:
    if d.attempts >= max_attempts:
        await mark_failed(session, d, f"attempts exhausted ({d.attempts}): {error}")
        return
    when = utcnow() + timedelta(seconds=backoff_s(d.attempts, retry_after_s))
    await _finish(
        session, d, "retry", error, status=DeliveryStatus.PENDING.value, next_attempt_at=when
    )


async def mark_failed(session: AsyncSession, d: Delivery, error: str) -> None:
    await _finish(session, d, "failed", error, status=DeliveryStatus.FAILED.value)


async def mark_denied(session: AsyncSession, d: Delivery, reason: str) -> None:
    await _finish(session, d, "denied", reason, status=DeliveryStatus.DENIED.value, reason=reason)
