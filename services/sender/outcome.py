"""What happened to each claimed delivery, and writing it down (every attempt kept).

Outcomes are plain values; ``record`` writes any number of them in one transaction with one
statement per kind (executemany). Each update is guarded by (status SENDING, attempts): a
delivery whose lease expired and that another sender re-claimed is never overwritten by a
late worker.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, NotRequired, TypedDict

from sqlalchemy import bindparam, insert, update
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import Delivery, DeliveryAttempt, DeliveryStatus, Recipient, utcnow
from libs.common.db.tables import table_of
from services.sender.claim import Claimed

BACKOFF_BASE_S = 5.0
BACKOFF_CAP_S = 3600.0
ERROR_MAX_CHARS = 2000
REASON_MAX_CHARS = 256  # deliveries.reason is VARCHAR(256)

DELIVERIES = table_of(Delivery)

Kind = Literal["sent", "retry", "failed", "denied", "deferred"]


@dataclass(frozen=True)
class Outcome:
    delivery_id: int
    attempt: int
    kind: Kind
    channel: str
    error: str | None = None
    provider_message_id: str | None = None
    next_attempt_at: datetime | None = None
    forget_chat: tuple[str, str, str] | None = None  # (tenant, user, chat) to unlink


def backoff_s(attempt: int, retry_after_s: float | None = None) -> float:
    """Exponential with jitter: ~5 s, 10 s, 20 s … capped at an hour; the peer's word wins."""
    if retry_after_s is not None:
        return retry_after_s
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(attempt - 1, 0))
    return float(ceiling / 2 + random.uniform(0, ceiling / 2))


def sent(c: Claimed, provider_message_id: str | None) -> Outcome:
    return Outcome(c.id, c.attempts, "sent", c.channel, provider_message_id=provider_message_id)


def failed(c: Claimed, error: str) -> Outcome:
    return Outcome(c.id, c.attempts, "failed", c.channel, error=error[:ERROR_MAX_CHARS])


def unreachable(c: Claimed, error: str) -> Outcome:
    """FAILED, and the user's dead Telegram chat is unlinked in the same transaction."""
    chat = (c.tenant, c.user_id, c.telegram_chat_id) if c.telegram_chat_id else None
    return Outcome(
        c.id, c.attempts, "failed", c.channel, error=error[:ERROR_MAX_CHARS], forget_chat=chat
    )


def denied(c: Claimed, reason: str) -> Outcome:
    return Outcome(c.id, c.attempts, "denied", c.channel, error=reason[:REASON_MAX_CHARS])


def retry(c: Claimed, error: str, max_attempts: int, retry_after_s: float | None = None) -> Outcome:
    """Back to PENDING after a backoff, or FAILED once the attempts are used up."""
    if c.attempts >= max_attempts:
        return failed(c, f"attempts exhausted ({c.attempts}): {error}")
    when = utcnow() + timedelta(seconds=backoff_s(c.attempts, retry_after_s))
    return Outcome(
        c.id, c.attempts, "retry", c.channel, error=error[:ERROR_MAX_CHARS], next_attempt_at=when
    )


def deferred(c: Claimed, delay_s: float, why: str) -> Outcome:
    """Not attempted (rate limit, permission check unavailable): PENDING again later, and
    the attempt is given back, so an outage elsewhere never uses up a delivery's attempts."""
    when = utcnow() + timedelta(seconds=delay_s)
    return Outcome(c.id, c.attempts, "deferred", c.channel, error=why, next_attempt_at=when)


def _guarded(**values: Any) -> Any:
    return (
        update(DELIVERIES)
        .where(
            DELIVERIES.c.id == bindparam("o_id"),
            DELIVERIES.c.status == DeliveryStatus.SENDING.value,
            DELIVERIES.c.attempts == bindparam("o_attempt"),
        )
        .values(locked_until=None, last_error=bindparam("o_error"), **values)
    )


_STATEMENTS: dict[Kind, Any] = {
    "sent": _guarded(
        status=DeliveryStatus.SENT.value,
        provider_message_id=bindparam("o_provider_id"),
        sent_at=bindparam("o_at"),
    ),
    "retry": _guarded(status=DeliveryStatus.PENDING.value, next_attempt_at=bindparam("o_next")),
    "failed": _guarded(status=DeliveryStatus.FAILED.value),
    "denied": _guarded(status=DeliveryStatus.DENIED.value, reason=bindparam("o_error")),
    "deferred": _guarded(
        status=DeliveryStatus.PENDING.value,
        next_attempt_at=bindparam("o_next"),
        attempts=DELIVERIES.c.attempts - 1,
    ),
}


class OutcomeParams(TypedDict):
    """One delivery's bound values for its kind's guarded update (``_STATEMENTS``)."""

    o_id: int
    o_attempt: int
    o_error: str | None
    o_provider_id: NotRequired[str | None]  # sent
    o_at: NotRequired[datetime]  # sent
    o_next: NotRequired[datetime | None]  # retry, deferred


class AttemptRow(TypedDict):
    delivery_id: int
    attempt: int
    outcome: str
    error: str | None


def _params(o: Outcome, now: datetime) -> OutcomeParams:
    params: OutcomeParams = {"o_id": o.delivery_id, "o_attempt": o.attempt, "o_error": o.error}
    if o.kind == "sent":
        params["o_provider_id"], params["o_at"] = o.provider_message_id, now
    elif o.kind in ("retry", "deferred"):
        params["o_next"] = o.next_attempt_at
    return params


async def record(session: AsyncSession, outcomes: Sequence[Outcome]) -> None:
    """Flush only; the caller's transaction commits."""
    now = utcnow()
    by_kind: dict[Kind, list[OutcomeParams]] = defaultdict(list)
    for o in outcomes:
        by_kind[o.kind].append(_params(o, now))
    for kind, params in by_kind.items():
        await session.execute(_STATEMENTS[kind], params)
    attempts: list[AttemptRow] = [
        {"delivery_id": o.delivery_id, "attempt": o.attempt, "outcome": o.kind, "error": o.error}
        for o in outcomes
        if o.kind != "deferred"  # not an attempt: nothing was tried
    ]
    if attempts:
        await session.execute(insert(DeliveryAttempt), attempts)
    dead = [
        dict(zip(("t", "u", "c"), o.forget_chat, strict=True)) for o in outcomes if o.forget_chat
    ]
    if dead:
        await session.execute(_FORGET_CHAT, dead)


# only if it is still the same chat: the user may have linked a new one meanwhile
_RECIPIENTS = table_of(Recipient)
_FORGET_CHAT = (
    update(_RECIPIENTS)
    .where(
        _RECIPIENTS.c.tenant == bindparam("t"),
        _RECIPIENTS.c.user_id == bindparam("u"),
        _RECIPIENTS.c.telegram_chat_id == bindparam("c"),
    )
    .values(telegram_chat_id=None)
)
