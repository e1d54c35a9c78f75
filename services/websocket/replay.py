"""Replays from the inbox, and the seam between a replay and live pushes (DESIGN §8).

A connection's position is ``client.seq``, the cursor value of the last notification it
delivered. Cursor values are contiguous per user and commit in order
(libs/common/inbox/inbox_cursor.py), so:

* a live push with value ≤ the position is a repeat: dropped;
* the next value is sent at once;
* a larger one means the pushes came out of order (two senders) or an item was revealed
  without a push: the values in between are already committed, so they are read from the
  database and sent first ("catch-up").

While a replay or catch-up runs, live pushes to that connection are held (``client.held``)
and released after it, those the replay already carried dropped: no live push before the
replay ends, no gap and no repeat at the seam. A replay that cannot read the database closes
the connection with 1013: the client reconnects and resumes from its last cursor, exactly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.inbox.inbox_cursor import encode
from services.websocket import inbox, protocol
from services.websocket.push import OPEN, Pusher
from services.websocket.registry import Client

T = TypeVar("T")
log = logging.getLogger("herald.websocket.replay")

READ_TIMEOUT_S = 10.0  # one page read; a hung database must not hold live pushes for long
DRAIN_POLL_S = 0.01  # between pages, wait for a slow client instead of dropping it


class Replayer:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        pusher: Pusher,
        page_size: int,
        max_items: int,
    ) -> None:
        self.db, self.pusher, self.page_size, self.max_items = (
            sessions,
            pusher,
            page_size,
            max_items,
        )
        self._catch_ups: dict[Client, asyncio.Task[None]] = {}

    def on_live(self, clients: set[Client], seq: int, data: bytes) -> list[Client]:
        """Which clients get this live notification now; the others hold or drop it."""
        now = []
        for client in clients:
            if client.held is not None:
                client.held.append((seq, data))
            elif seq == client.seq + 1:
                client.seq = seq
                now.append(client)
            elif seq > client.seq:
                client.held = [(seq, data)]
                self._spawn(client)
        return now

    def catch_up_then(self, clients: set[Client], counts: bytes) -> None:
        """A counts push alone: the unread state changed, perhaps by an item revealed without
        a notification push (e-mail only). Read what follows each position, then the counts."""
        for client in clients:
            if client.held is None:
                client.held = []
                self._spawn(client)
            client.held_counts = counts

    async def catch_up(self, client: Client) -> None:
        """Fill a gap from the database, then release what was held."""
        try:
            _, last = await self._replay(client, client.seq)
        except Exception as exc:
            self._unavailable(client, exc)
            return
        self._release(client, last, [])

    async def welcome(self, client: Client, current: int) -> None:
        """A connection without a cursor: live from welcome on (``current``)."""
        client.seq = current
        first = min((seq for seq, _ in client.held or () if seq > current), default=None)
        if first is not None and first > current + 1:
            await self.catch_up(client)
        else:
            self._release(client, current, [])

    async def resume(self, client: Client, after: int | None, cmd_id: str | None) -> None:
        """Everything after cursor value ``after``, oldest first, then live. ``None`` (a
        cursor we cannot read) or a gap past ``max_items`` answers ``recovered: false``."""
        client.held = [] if client.held is None else client.held
        try:
            current = await self._read(inbox.position(self.db, client.tenant, client.user_id))
            recovered = after is not None and 0 <= current - after <= self.max_items
            start = after if after is not None and recovered else current
            count, last = await self._replay(client, start) if recovered else (0, current)
            counts = await self._read(inbox.unread_counts(self.db, client.tenant, client.user_id))
        except Exception as exc:
            self._unavailable(client, exc)
            return
        body = {"type": "resumed", "id": cmd_id, "cursor": encode(last), "count": count}
        body["recovered"] = recovered
        self._release(client, last, [protocol.frame(body), protocol.counts(counts)])

    async def resume_by_id(self, client: Client, last_id: int, cmd_id: str | None) -> None:
        """Deprecated (one release): ids after ``last_id`` not yet delivered here, one page."""
        client.held = [] if client.held is None else client.held
        try:
            page = await self._read(
                inbox.after_id(
                    self.db, client.tenant, client.user_id, last_id, client.welcomed, self.page_size
                )
            )
            self.pusher.push_each(client, [protocol.notification(i, s) for s, i in page], "resume")
            counts = await self._read(inbox.unread_counts(self.db, client.tenant, client.user_id))
            _, live = await self._replay(client, client.seq)  # anything live meanwhile
        except Exception as exc:
            self._unavailable(client, exc)
            return
        last = max([last_id, *(item.id for _, item in page)])
        body = {"type": "resumed", "id": cmd_id, "count": len(page), "last_id": last}
        body["more"] = len(page) >= self.page_size
        self._release(client, live, [protocol.frame(body), protocol.counts(counts)])

    async def _replay(self, client: Client, after: int) -> tuple[int, int]:
        """Pages after ``after`` until caught up; (items sent, last cursor value)."""
        count, reread = 0, False
        while _open(client):
            page = await self._read(
                inbox.after(self.db, client.tenant, client.user_id, after, self.page_size)
            )
            frames = [protocol.notification(item, seq) for seq, item in page]
            self.pusher.push_each(client, frames, "notification")
            count += len(page)
            after = page[-1][0] if page else after
            if len(page) == self.page_size:
                await self._drain(client)
                continue
            first = min((seq for seq, _ in client.held or () if seq > after), default=None)
            if first is None or first == after + 1 or reread:
                break
            # a held push committed after our read: what lies before it is committed too
            reread = True
        return count, after

    def _release(self, client: Client, after: int, answer: list[bytes]) -> None:
        """No await in here: nothing can slip between the answer and the held pushes."""
        held, client.held = sorted(client.held or (), key=lambda h: h[0]), None
        counts, client.held_counts = client.held_counts, None
        self.pusher.push_each(client, answer, "resume")
        frames = []
        for seq, data in held:
            if seq > after:  # values the replay carried, or older ones, are repeats
                frames.append(data)
                after = seq
        client.seq = after
        self.pusher.push_each(client, frames, "notification")
        if counts is not None:  # pushed live meanwhile: at least as new as the replay's
            self.pusher.push_each(client, [counts], "counts")

    def _unavailable(self, client: Client, exc: BaseException) -> None:
        log.warning("inbox unreadable for %s/%s: %r", client.tenant, client.user_id, exc)
        client.held, client.dropped = None, True
        self.pusher.close(client, protocol.CLOSE_TRY_LATER, "inbox unavailable; resume later")

    async def _read(self, read: Awaitable[T]) -> T:
        async with asyncio.timeout(READ_TIMEOUT_S):
            return await read

    async def _drain(self, client: Client) -> None:
        transport = client.conn.transport
        limit = self.pusher.max_backlog_bytes // 2
        # no event fires when a transport's buffer shrinks: poll it (ASYNC110)
        while _open(client) and transport.get_write_buffer_size() > limit:  # noqa: ASYNC110
            await asyncio.sleep(DRAIN_POLL_S)

    def _spawn(self, client: Client) -> None:
        task = asyncio.create_task(self.catch_up(client))
        self._catch_ups[client] = task
        task.add_done_callback(lambda _: self._catch_ups.pop(client, None))

    async def idle(self, client: Client) -> None:
        """Wait for this client's catch-up, if one runs: one replay at a time per connection."""
        task = self._catch_ups.get(client)
        if task is not None:
            await asyncio.shield(task)


def _open(client: Client) -> bool:
    return not client.dropped and client.conn.protocol.state is OPEN
