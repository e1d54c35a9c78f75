"""Operator actions on rows: retry a delivery, reprocess an event. Logic only flushes; the
admin view owns the transaction and nudges the worker after the commit."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Event,
    EventStatus,
    utcnow,
)

# FAILED and DENIED get a fresh retry budget; PENDING is only brought forward. Never SENT
# (that would send it twice), SENDING (in flight), nor SKIPPED/DIGEST* (not meant to be sent).
RETRYABLE = {DeliveryStatus.FAILED.value, DeliveryStatus.DENIED.value, DeliveryStatus.PENDING.value}
# Only failed events go back; a processed event re-run would hit its own unique rows, and a
# received one is merely nudged. Rejected rows never parsed: there is nothing to process.
REPROCESSABLE = {EventStatus.FAILED.value, EventStatus.RECEIVED.value}
MAX_NOTE_CHARS = 500


class ActionRefused(Exception):
    """The row is not in a state the action applies to; the message says why."""


async def _locked(session: AsyncSession, model: type[Delivery] | type[Event], pk: object) -> object:
    stmt = select(model).where(model.id == pk)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = await session.scalar(stmt)
    if row is None:
        raise ActionRefused(f"{model.__tablename__} {pk} not found")
    return row


async def retry_delivery(session: AsyncSession, delivery_id: int, admin: str) -> Delivery:
    d = await _locked(session, Delivery, delivery_id)
    assert isinstance(d, Delivery)
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


async def reprocess_event(session: AsyncSession, event_id: str, admin: str) -> Event:
    e = await _locked(session, Event, event_id)
    assert isinstance(e, Event)
    if e.status not in REPROCESSABLE:
        raise ActionRefused(f"event {e.id} is {e.status}: only failed (or stuck received) events")
    if e.status == EventStatus.FAILED.value:
        previous = (e.error or "")[:MAX_NOTE_CHARS]
        e.status = EventStatus.RECEIVED.value
        e.attempts = 0
        e.error = f"requeued by admin {admin!r} (was failed: {previous})"
        await session.flush()
    return e
