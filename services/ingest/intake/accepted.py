"""After a commit, publish what was stored to ``herald.accepted`` for the gateway's live feeds
(libs/common/schemas/accepted.py): only events stored now, never rejected ones or repeats.

Best effort, like the processor's nudge: the event is committed whatever happens here, and a
feed subscriber that missed it recovers it from the database on resubscribe (DESIGN §8).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from libs.common.bus import Bus
from libs.common.bus.topology import ACCEPTED_EXCHANGE
from libs.common.db.models import utcnow
from libs.common.schemas.accepted import AcceptedEvent, AcceptedEvents
from services.ingest.intake.decode import Accepted
from services.ingest.intake.store import Stored

log = logging.getLogger("herald.ingest.accepted")


async def publish_accepted(bus: Bus, items: Sequence[Accepted], stored: Sequence[Stored]) -> None:
    """One message per routing key of the batch; ``stored`` is in ``items``' order."""
    at = utcnow()
    by_key: dict[str, list[AcceptedEvent]] = {}
    for item, row in zip(items, stored, strict=True):
        if row.duplicate:
            continue
        env = item.envelope
        event = AcceptedEvent(event_id=row.event_id, tenant=env.tenant, at=at, body=item.body)
        by_key.setdefault(f"{env.source}.{env.type}", []).append(event)
    for key, events in by_key.items():
        body = AcceptedEvents(events=events).model_dump_json().encode()
        try:
            await bus.publish(ACCEPTED_EXCHANGE, key, body)
        except Exception as exc:  # committed already; feeds recover from the database
            log.warning("herald.accepted publish failed for %d events: %r", len(events), exc)
