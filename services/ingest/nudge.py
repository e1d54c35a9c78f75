"""After a commit, tell the processor; a lost nudge is harmless (the sweep finds the row)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable

from libs.common.bus import Bus
from libs.common.bus.topology import PROCESS_KEY, WORK_EXCHANGE

log = logging.getLogger("herald.ingest")


async def nudge_processor(bus: Bus, event_ids: Iterable[str]) -> None:
    for event_id in event_ids:
        try:
            await bus.publish(
                WORK_EXCHANGE, PROCESS_KEY, json.dumps({"event_id": event_id}).encode()
            )
        except Exception as exc:  # the processor's sweep claims it within seconds anyway
            log.warning("nudge for %s not sent: %s", event_id, exc)
