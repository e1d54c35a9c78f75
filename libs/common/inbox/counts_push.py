"""Telling a user's open pages that their unread counters changed: a ``counts`` push on
``herald.browser`` (every websocket gateway forwards it to that user's connections).

Published after the commit that changed what the user sees, with counters read after it.
Best effort: the change is committed and every page reads the counters again on its next
push or reconnect, so a broker hiccup must not turn the change into an error.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.bus import Bus
from libs.common.bus.topology import BROWSER_EXCHANGE
from libs.common.inbox.access import User
from libs.common.inbox.unread import unread_counts_of
from libs.common.schemas.inbox import BrowserPush, UnreadCounts

log = logging.getLogger("herald.counts")


async def publish_counts(bus: Bus, tenant: str, user_id: str, counts: UnreadCounts) -> None:
    push = BrowserPush(kind="counts", tenant=tenant, user_id=user_id, counts=counts)
    try:
        await bus.publish(BROWSER_EXCHANGE, "", push.model_dump_json().encode())
    except Exception as exc:  # best effort, see above
        log.warning("counts push for %s failed: %s", user_id, repr(exc)[:300])


async def push_counts_of(
    bus: Bus | None, sessions: async_sessionmaker[AsyncSession], users: Iterable[User]
) -> None:
    """Read the users' counters (one query) and publish one push each."""
    wanted = set(users)
    if bus is None or not wanted:
        return
    try:
        async with sessions() as session:
            counts = await unread_counts_of(session, wanted)
    except Exception as exc:  # the change is committed; the pages catch up later
        log.warning("counts for a push to %d users unavailable: %s", len(wanted), repr(exc)[:300])
        return
    for (tenant, user_id), of_user in counts.items():
        await publish_counts(bus, tenant, user_id, of_user)
