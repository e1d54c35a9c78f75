"""``herald reprocess <event_id>``: give a failed event another round of attempts."""

from __future__ import annotations

import json

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.bus import Bus
from libs.common.bus.topology import PROCESS_KEY, WORK_EXCHANGE
from libs.common.db.engine import transaction
from libs.common.db.models import Event, EventStatus


class CannotReprocess(ValueError):
    """The event is unknown, or reprocessing it would do harm (say why)."""


REFUSALS = {
    EventStatus.PROCESSED.value: "already processed; its notifications exist "
    "(retry a single delivery instead)",
    EventStatus.REJECTED.value: "rejected at intake; it never became an event to process "
    "(fix the producer and send it again)",
}


async def reprocess(sessions: async_sessionmaker[AsyncSession], bus: Bus, event_id: str) -> str:
    """Reset a failed event to received (attempts 0) and nudge the processor; a received one
    is only nudged. Returns what was done."""
    async with transaction(sessions) as session:
        event = await session.get(Event, event_id, with_for_update=True)
        if event is None:
            raise CannotReprocess(f"no event {event_id}")
        if event.status in REFUSALS:
            raise CannotReprocess(f"event {event_id} is {event.status}: {REFUSALS[event.status]}")
        was = event.status
        await session.execute(
            update(Event)
            .where(Event.id == event_id, Event.status == was)
            .values(status=EventStatus.RECEIVED.value, attempts=0, error=None)
        )
    # after the commit; if this nudge is lost the processor's sweep picks the event up anyway
    await bus.publish(WORK_EXCHANGE, PROCESS_KEY, json.dumps({"event_id": event_id}).encode())
    if was == EventStatus.FAILED.value:
        return f"event {event_id} reset from failed to received and queued for processing"
    return f"event {event_id} is still waiting to be processed; nudged the processor"


async def reprocess_from_settings(event_id: str) -> str:
    """The CLI's entry: HERALD_DATABASE_URL and HERALD_AMQP_URL, as the processor reads them."""
    from libs.common.resources import Resources
    from services.processor.settings import ProcessorSettings

    settings = ProcessorSettings()
    resources = await Resources.open(settings, settings)
    try:
        return await reprocess(resources.sessions, resources.bus, event_id)
    finally:
        await resources.close()
