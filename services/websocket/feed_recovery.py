"""Feed recovery (what Centrifugo calls history and recovery, DESIGN §8): a subscription that
carries the last feed cursor it saw gets the feed's events it missed, read from the database
within a bounded window, projected and authorized exactly like live ones; then live.

The window is ``ws_feed_recovery_minutes`` and ``ws_feed_recovery_events``: a cursor older
than the window, more missed events than the cap, or an unreadable cursor answers
``recovered: false`` (the page reloads the entity). Live events for that subscription are
held while the replay runs and sent after it, minus those it carried.

Feed cursors are times (when ingest published the event), and ingest commits in batches, so
the replay starts ``COMMIT_SLACK_S`` before the cursor: it may repeat events of those few
seconds, which a page recognises by their ``id``.
"""

from __future__ import annotations

import logging
from datetime import UTC, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import Event, EventStatus, utcnow
from libs.common.schemas.accepted import AcceptedEvent
from services.websocket import protocol
from services.websocket.fanout import Fanout
from services.websocket.feeds import Feed
from services.websocket.push import Pusher
from services.websocket.registry import Client, GroupKey

log = logging.getLogger("herald.websocket.feed_recovery")

COMMIT_SLACK_S = 5.0  # an ingest batch commits within this after its events were stamped
SCAN_ROWS = 10_000  # events of the tenant read at most per recovery (then: not recovered)


class TooFar(Exception):
    """The gap is outside the recovery window: answer ``recovered: false``."""


class FeedRecovery:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        fanout: Fanout,
        pusher: Pusher,
        window_minutes: float,
        max_events: int,
    ) -> None:
        self.db, self.fanout, self.pusher = sessions, fanout, pusher
        self.window = timedelta(minutes=window_minutes)
        self.max_events = max_events

    async def recover(self, client: Client, feed: Feed, key: GroupKey, cursor: str) -> bool:
        """Called right after the subscription was added (live events for it are held from
        now on); sends the missed events, then the held ones. True when recovered."""
        self.fanout.recovering[(client, key)] = []
        sent: set[str] = set()
        try:
            missed = await self._missed(feed, key, cursor)
            for routing_key, event in missed:
                for _, targets, data in await self.fanout.prepare(routing_key, event, client):
                    if client in targets:
                        self.pusher.push((client,), data, "event")
                sent.add(event.event_id)
            recovered = True
        except TooFar:
            recovered = False
        except Exception as exc:  # the database: the page reloads, nothing is guessed
            log.warning("feed recovery failed for %s: %r", client.user_id, exc)
            recovered = False
        held = self.fanout.recovering.pop((client, key), [])
        self.pusher.push_each(client, [data for i, data in held if i not in sent], "event")
        return recovered

    async def _missed(
        self, feed: Feed, key: GroupKey, cursor: str
    ) -> list[tuple[str, AcceptedEvent]]:
        position = protocol.read_feed_cursor(cursor)
        now = utcnow()
        skew = timedelta(seconds=COMMIT_SLACK_S)  # ingest's clock may run a little ahead
        if position is None or not now - self.window <= position[0] <= now + skew:
            raise TooFar
        since, seen_id = position
        _, tenant, params = key
        query = (
            select(Event.id, Event.source, Event.type, Event.body, Event.received_at)
            .where(Event.tenant == tenant, Event.status != EventStatus.REJECTED)
            .where(Event.received_at >= since - timedelta(seconds=COMMIT_SLACK_S))
            .order_by(Event.received_at, Event.id)
            .limit(SCAN_ROWS)
        )
        async with self.db() as session:
            rows = (await session.execute(query)).all()
        if len(rows) >= SCAN_ROWS:
            raise TooFar
        missed = []
        for event_id, source, kind, body, at in rows:
            routing_key = f"{source}.{kind}"
            if event_id == seen_id or not feed.routes(routing_key) or not isinstance(body, dict):
                continue
            if feed.params_of(body) != params:
                continue
            at = at if at.tzinfo is not None else at.replace(tzinfo=UTC)  # SQLite: naive UTC
            event = AcceptedEvent(event_id=event_id, tenant=tenant, at=at, body=body)
            missed.append((routing_key, event))
        if len(missed) > self.max_events:
            raise TooFar
        return missed
