"""Reprocessing an event: give a failed event another round of attempts (``herald reprocess``
and the admin's "Reprocess" action share this).

A failed event goes back to ``received`` with ``attempts`` 0; a ``received`` one (stuck: its
nudge lost, the processor down) is only nudged. A processed event is refused — run again, it
would hit its own notifications — and so is a rejected one, which never parsed.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.bus import Bus
from libs.common.bus.nudges import nudge_processor
from libs.common.db.engine import transaction
from libs.common.db.models import Event, EventStatus

MAX_NOTE_CHARS = 500  # of the previous error, kept in the audit note

REFUSALS = {
    EventStatus.PROCESSED.value: "already processed; its notifications exist "
    "(retry a single delivery instead)",
    EventStatus.REJECTED.value: "rejected at intake; it never became an event to process "
    "(fix the producer and send it again)",
}


class CannotReprocess(ValueError):
    """The event is unknown, or reprocessing it would do harm (the message says why)."""


async def reset_event(session: AsyncSession, event_id: str, *, by: str | None = None) -> str:
    """Inside the caller's transaction: lock the row, refuse what must not run again, put a
    failed event back. ``by`` (an operator) leaves an audit note in ``error``; without it the
    error is cleared. Returns the status the event had; nudge the processor after the commit."""
    stmt = select(Event).where(Event.id == event_id).with_for_update()  # SQLite: no row locks
    event = await session.scalar(stmt)
    if event is None:
        raise CannotReprocess(f"no event {event_id}")
    was = event.status
    if was in REFUSALS:
        raise CannotReprocess(f"event {event_id} is {was}: {REFUSALS[was]}")
    if was == EventStatus.FAILED.value:
        previous = (event.error or "")[:MAX_NOTE_CHARS]
        event.status = EventStatus.RECEIVED.value
        event.attempts = 0
        event.error = f"requeued by {by} (was failed: {previous})" if by else None
        await session.flush()
    return was


async def reprocess(
    sessions: async_sessionmaker[AsyncSession], bus: Bus, event_id: str, *, by: str | None = None
) -> str:
    """Reset (one transaction), then nudge the processor; returns what was done."""
    async with transaction(sessions) as session:
        was = await reset_event(session, event_id, by=by)
    lost = await nudge_processor(bus, [event_id])
    if was == EventStatus.FAILED.value:
        said = f"event {event_id} reset from failed to received and queued for processing"
    else:
        said = f"event {event_id} is still waiting to be processed; nudged the processor"
    if lost:
        said += " (the nudge was not sent: the processor's sweep picks it up within seconds)"
    return said
