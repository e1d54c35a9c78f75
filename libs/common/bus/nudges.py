"""Nudges on ``herald.work``: "there is work for you" after a commit, never the work itself.

The row is the truth; a nudge only spares the next stage its sweep interval. So a nudge that
cannot be sent is logged and counted, never raised: the caller's commit already happened and
the stage's sweep (processor: events still ``received``; sender: due ``PENDING`` rows) finds
the work within seconds.

One message carries many ids: ``{"event_ids": [...]}`` to the processor (one per stored ingest
batch instead of one per event), ``{"delivery_ids": [...]}`` to the sender. A message holds
at most ``MAX_NUDGE_IDS`` ids; longer lists go out as several messages.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence

from libs.common.bus.base import Bus
from libs.common.bus.topology import PROCESS_KEY, SEND_KEY, WORK_EXCHANGE
from libs.common.runtime.errors import PermanentError

log = logging.getLogger("herald.nudges")

MAX_NUDGE_IDS = 1_000  # ids per message: ~40 KB of JSON, far below any broker frame limit


async def nudge_processor(bus: Bus, event_ids: Sequence[str]) -> int:
    """Tell the processor these events are stored; the number of ids whose nudge failed."""
    return await _nudge(bus, PROCESS_KEY, "event_ids", list(event_ids))


async def nudge_sender(bus: Bus, delivery_ids: Sequence[int]) -> int:
    """Tell the sender these deliveries are due; the number of ids whose nudge failed."""
    return await _nudge(bus, SEND_KEY, "delivery_ids", list(delivery_ids))


def parse_process_nudge(body: bytes) -> list[str]:
    """``{"event_ids": [...]}`` or the single ``{"event_id": …}``; anything else is a
    ``PermanentError`` (dead-lettered: retrying garbage cannot help)."""
    try:
        data = json.loads(body)
        ids = data["event_ids"] if "event_ids" in data else [data["event_id"]]
        if not isinstance(ids, list) or not 0 < len(ids) <= MAX_NUDGE_IDS:
            raise ValueError(f"event_ids must be a list of 1 to {MAX_NUDGE_IDS} ids")
        return [str(i) for i in ids]
    except (ValueError, KeyError, TypeError, RecursionError) as exc:  # deep nesting: not a bug
        raise PermanentError(f"malformed nudge: {body[:200]!r}") from exc


def chunks(ids: list[str] | list[int]) -> list[list[str] | list[int]]:
    return [ids[start : start + MAX_NUDGE_IDS] for start in range(0, len(ids), MAX_NUDGE_IDS)]


async def _nudge(bus: Bus, key: str, field: str, ids: list[str] | list[int]) -> int:
    if not ids:
        return 0
    parts = chunks(ids)
    # the parts are published concurrently so the broker's confirms overlap
    results = await asyncio.gather(
        *(bus.publish(WORK_EXCHANGE, key, json.dumps({field: part}).encode()) for part in parts),
        return_exceptions=True,
    )
    lost = [part for part, r in zip(parts, results, strict=True) if isinstance(r, BaseException)]
    failed = sum(map(len, lost))
    if failed:
        first = next(r for r in results if isinstance(r, BaseException))
        log.warning("%s nudge: %d of %d ids not sent (the sweep finds them): %r",
                    key, failed, len(ids), first)  # fmt: skip
    return failed
