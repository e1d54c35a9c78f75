"""``herald reprocess <event_id>``: give a failed event another round of attempts.

The logic is libs/common/events/reprocess.py (shared with the admin's "Reprocess" action); this is
the command line's entry."""

from __future__ import annotations

from libs.common.events.reprocess import CannotReprocess, reprocess

__all__ = ["CannotReprocess", "reprocess_from_settings"]


async def reprocess_from_settings(event_id: str) -> str:
    """HERALD_DATABASE_URL and HERALD_AMQP_URL, as the processor reads them."""
    from libs.common.runtime.resources import Resources
    from services.processor.settings import ProcessorSettings

    settings = ProcessorSettings()
    resources = await Resources.open(settings, settings)
    try:
        return await reprocess(resources.sessions, resources.bus, event_id)
    finally:
        await resources.close()
