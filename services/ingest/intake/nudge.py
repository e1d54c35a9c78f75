"""After a commit, tell the processor; a lost nudge is harmless (the sweep finds the row).

One message per stored batch (``{"event_ids": [...]}``), not one per event: a publish and its
confirm per event cost ingest about 40 % of its CPU per event."""

from __future__ import annotations

from collections.abc import Sequence

from libs.common.bus import Bus, nudges
from services.ingest.intake import metrics as m


async def nudge_processor(bus: Bus, event_ids: Sequence[str]) -> None:
    failed = await nudges.nudge_processor(bus, event_ids)
    if failed:  # the processor's sweep claims these within seconds anyway
        m.NUDGE_FAILURES.inc(failed)
