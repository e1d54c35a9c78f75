"""After a commit, tell the processor; a lost nudge is harmless (the sweep finds the row)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable

from libs.common.bus import Bus
from libs.common.bus.topology import PROCESS_KEY, WORK_EXCHANGE
from services.ingest import metrics as m

log = logging.getLogger("herald.ingest")


async def nudge_processor(bus: Bus, event_ids: Iterable[str]) -> None:
    """One ``{"event_id"}`` per event, published concurrently so the broker's confirms overlap
    (a batch of 100 costs about one round trip, not 100)."""
    ids = list(event_ids)
    if not ids:
        return
    results = await asyncio.gather(
        *(
            bus.publish(WORK_EXCHANGE, PROCESS_KEY, json.dumps({"event_id": event_id}).encode())
            for event_id in ids
        ),
        return_exceptions=True,
    )
    failed = [r for r in results if isinstance(r, BaseException)]
    if failed:  # the processor's sweep claims these within seconds anyway
        m.NUDGE_FAILURES.inc(len(failed))
        log.warning("%d of %d nudges not sent: %r", len(failed), len(ids), failed[0])
