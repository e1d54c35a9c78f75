"""The resume race (issue 16): two tabs of one user drop and resume over and over while two
processors and two senders turn a steady stream of events into browser notifications. Every
notification reaches each tab exactly once, in cursor order."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from contextlib import AsyncExitStack
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from herald.emit import sample_event
from libs.common.clients.producer import EventProducer
from libs.common.db.models import Delivery, DeliveryStatus, Notification
from libs.common.inbox.inbox_cursor import decode
from tests.apps import eventually, user_token
from tests.integration.services.websocket.harness import Running, gateway, recv_json
from tests.integration.services.websocket.pipeline import start_pipeline

USER = "u-1"
EVENTS = 160
EVENTS_PER_S = 40.0
ONLINE_S = (0.15, 0.5)  # how long a tab stays connected before its network drops
OFFLINE_S = (0.02, 0.25)


class Tab:
    """A page following docs/websocket-protocol.md: keeps the last cursor, resumes from it."""

    def __init__(self, gw: Running, seed: int) -> None:
        self.gw, self.rng = gw, random.Random(seed)
        self.ids: list[int] = []
        self.seqs: list[int] = []
        self.cursor: str | None = None
        self.last_id = 0  # the protocol before issue 16 resumed by notification id
        self.drops = 0

    async def run_until(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.visit(self.rng.uniform(*ONLINE_S))
            self.drops += 1
            await asyncio.sleep(self.rng.uniform(*OFFLINE_S))

    async def visit(self, online_s: float) -> None:
        async with self.gw.connect() as conn:
            auth: dict[str, Any] = {"type": "auth", "token": user_token(USER)}
            if self.cursor is not None:
                auth["resume"] = self.cursor
            await conn.send(json.dumps(auth))
            welcome = await recv_json(conn)
            if "cursor" not in welcome:  # the old contract: resume by id after welcome
                await conn.send(json.dumps({"type": "resume", "last_id": self.last_id}))
            elif self.cursor is None:
                self.cursor = welcome["cursor"]
            deadline = time.monotonic() + online_s
            while (left := deadline - time.monotonic()) > 0:
                try:
                    self.take(await recv_json(conn, left))
                except TimeoutError:
                    break

    def take(self, frame: dict[str, Any]) -> None:
        if frame["type"] != "notification":
            return
        self.ids.append(frame["item"]["id"])
        self.last_id = max(self.last_id, frame["item"]["id"])
        if "cursor" in frame:
            self.cursor = frame["cursor"]
            self.seqs.append(decode(frame["cursor"]))


async def _all_sent(sessions: async_sessionmaker[AsyncSession]) -> bool:
    async with sessions() as session:
        left = await session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.status.in_([DeliveryStatus.PENDING, DeliveryStatus.SENDING]))
        )
        made = await session.scalar(select(func.count()).select_from(Notification))
    return left == 0 and made == EVENTS


async def _steady_load(amqp_url: str) -> None:
    async with EventProducer.amqp(amqp_url) as producer:
        for n in range(EVENTS):
            event = sample_event()
            event["recipients"] = {"assignee": [USER]}  # not in the directory: browser only
            event["payload"] = {"title": f"n{n}"}
            await producer.emit(event)
            await asyncio.sleep(1 / EVENTS_PER_S)


async def test_two_tabs_dropping_under_load_lose_nothing_and_repeat_nothing(
    database_url: str, amqp_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with AsyncExitStack() as stack:
        await start_pipeline(stack, database_url, amqp_url, copies=2)
        gw = await stack.enter_async_context(gateway(database_url, amqp_url))
        tabs = [Tab(gw, seed) for seed in (1, 2)]
        for tab in tabs:  # both tabs open before the first event: they expect every one
            await tab.visit(0.05)
        stop = asyncio.Event()
        dropping = [asyncio.create_task(tab.run_until(stop)) for tab in tabs]
        await _steady_load(amqp_url)
        await eventually(lambda: _all_sent(sessions), timeout_s=30)
        stop.set()
        await asyncio.gather(*dropping)
        for tab in tabs:  # one last visit picks up whatever the last drop missed
            await tab.visit(1.5)

    async with sessions() as session:
        expected = set((await session.scalars(select(Notification.id))).all())
    assert len(expected) == EVENTS
    for tab in tabs:
        got = Counter(tab.ids)
        lost = expected - set(got)
        duplicated = {i: n for i, n in got.items() if n > 1}
        assert tab.drops >= 5, "the load ended before the tab dropped a few times"
        assert (len(lost), len(duplicated)) == (0, 0), (sorted(lost), duplicated)
        assert tab.seqs == sorted(tab.seqs) and len(tab.seqs) == EVENTS, "cursor order kept"
