"""Operator actions on rows: retry a delivery (reprocessing an event is
libs/common/events/reprocess.py, shared with ``herald reprocess``). Logic only flushes; the admin
view owns the transaction and nudges the worker after the commit."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import Delivery, DeliveryAttempt, DeliveryStatus, utcnow

# FAILED and DENIED get a fresh retry budget; PENDING is only brought forward. Never SENT
# (that would send it twice), SENDING (in flight), nor SKIPPED/DIGEST* (not meant to be sent).
RETRYABLE = {DeliveryStatus.FAILED.value, DeliveryStatus.DENIED.value, DeliveryStatus.PENDING.value}
MAX_NOTE_CHARS = 500


class ActionRefused(Exception):
    """The row is not in a state the action applies to; the message says why."""


async def retry_delivery(session: AsyncSession, delivery_id: int, admin: str) -> Delivery:
    # FOR UPDATE: a sender claiming the row at the same time waits (SQLite omits the clause)
    d = await session.scalar(select(Delivery).where(Delivery.id == delivery_id).with_for_update())
    if d is None:
        raise ActionRefused(f"delivery {delivery_id} not found")
    if d.status not in RETRYABLE:
        raise ActionRefused(f"delivery {d.id} is {d.status}: only FAILED, DENIED or PENDING retry")
    note = f"requeued by admin {admin!r} (was {d.status}: {(d.last_error or '')[:MAX_NOTE_CHARS]})"
    session.add(
        DeliveryAttempt(delivery_id=d.id, attempt=d.attempts, outcome="requeued", error=note)
    )
    if d.status != DeliveryStatus.PENDING.value:
        d.attempts = 0  # a full retry budget: the operator fixed what made it fail
    d.status = DeliveryStatus.PENDING.value
    d.next_attempt_at = utcnow()
    d.locked_until = None
    await session.flush()
    return d
