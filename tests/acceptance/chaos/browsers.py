"""Browser tabs during the storm: real websocket clients that follow docs/websocket-protocol.md.

Each tab keeps the last cursor it saw, drops its connection at random moments (and loses it
whenever the gateway is SIGKILLed or PostgreSQL restarts) and reconnects with
``"resume": <cursor>`` in its ``auth`` message. On ``recovered: false`` it reloads the inbox
over REST, as a page must, and carries on from the cursor the gateway answered with.
``browser_verdict.py`` compares what every tab got with the users' inboxes at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import WebSocketException

from libs.common.inbox.inbox_cursor import decode
from libs.common.security.auth import JwtSettings, issue_token
from tests.acceptance.chaos.population import TENANT
from tests.acceptance.chaos.stack import JWT_AUDIENCE, JWT_ISSUER, JWT_SECRET

# u-000 (two filters), u-007 (digest mode for e-mail), u-013 (an e-mail-only filter) and u-026
# (a browser-only filter) are subscribers; u-001 and u-033 get their tickets' events only
USERS = ("u-000", "u-001", "u-007", "u-013", "u-026", "u-033")
TABS_PER_USER = 2
ONLINE_S = (0.5, 4.0)  # how long a tab stays connected before its network drops
OFFLINE_S = (0.05, 1.0)  # and how long it stays away (a refused connect: the same again)
FINAL_VISIT_S = 60.0  # the first (last) visit must reach `welcome` (`resumed`) within this
TOKEN_TTL_S = 3600  # well past a full run: a token never expires mid-run
REST_PAGE = 200  # the inbox API's largest page
NETWORK_ERRORS = (OSError, TimeoutError, WebSocketException, httpx.HTTPError)


@dataclass
class Tab:
    """One page: what it was delivered, in order, and how often it had to reconnect."""

    user: str
    index: int
    rng: random.Random
    cursor: str | None = None
    first_seq: int | None = None  # the first welcome's cursor: the tab expects all after it
    last_seq: int = 0  # the latest cursor value delivered (or reloaded up to)
    delivered: list[int] = field(default_factory=list)  # cursor values, in arrival order
    out_of_order: list[tuple[int, int]] = field(default_factory=list)  # (previous, then)
    reloaded_ids: set[int] = field(default_factory=set)  # notification ids REST showed
    connects: int = 0
    resumes: int = 0  # `resumed` frames answered with recovered: true
    reloads: int = 0  # recovered: false, reloaded over REST
    failures: Counter[str] = field(default_factory=Counter)  # why a visit ended early

    @property
    def name(self) -> str:
        return f"{self.user}/tab{self.index}"

    def take(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "welcome" and self.cursor is None:
            self.cursor = frame["cursor"]
            self.first_seq = self.last_seq = decode(frame["cursor"])
        elif kind == "notification":
            seq = decode(frame["cursor"])
            if seq <= self.last_seq:
                self.out_of_order.append((self.last_seq, seq))
            self.delivered.append(seq)
            self.cursor, self.last_seq = frame["cursor"], max(self.last_seq, seq)
        elif kind == "resumed" and frame.get("recovered"):
            self.resumes += 1


@dataclass
class Browsers:
    """``TABS_PER_USER`` tabs for each of ``USERS`` against the gateway and the user API."""

    ws_port: int
    api_port: int
    seed: int
    tabs: list[Tab] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        tabs = [(user, i) for user in USERS for i in range(TABS_PER_USER)]
        self.tabs = [Tab(user, i, random.Random(rng.random())) for user, i in tabs]
        jwt = JwtSettings(jwt_secret=JWT_SECRET, jwt_audience=JWT_AUDIENCE, jwt_issuer=JWT_ISSUER)
        self.tokens = {u: issue_token(jwt, u, TENANT, ttl_s=TOKEN_TTL_S) for u in USERS}

    async def open(self) -> None:
        """Every tab's first visit, before the load: from its welcome on it expects all."""
        await asyncio.gather(*(self._first_visit(tab) for tab in self.tabs))
        missing = [t.name for t in self.tabs if t.cursor is None]
        if missing:
            raise RuntimeError(f"no welcome for {missing}")

    async def _first_visit(self, tab: Tab) -> None:
        """Until a welcome came: a loaded machine may take longer than one short visit."""
        deadline = time.monotonic() + FINAL_VISIT_S
        while tab.cursor is None and time.monotonic() < deadline:
            await self._visit(tab, 1.0)

    async def roam(self) -> None:
        """Drop and resume, every tab on its own rhythm, until ``stop`` is set."""
        await asyncio.gather(*(self._roam(tab) for tab in self.tabs))

    async def _roam(self, tab: Tab) -> None:
        while not self.stop.is_set():
            await self._visit(tab, tab.rng.uniform(*ONLINE_S))
            await asyncio.sleep(tab.rng.uniform(*OFFLINE_S))

    async def close(self) -> None:
        """After roaming stopped: each tab visits until the gateway answers its resume, so it
        holds everything up to the final cursor (the storm is over, the inbox settled)."""
        await asyncio.gather(*(self._final_visit(tab) for tab in self.tabs))

    async def _final_visit(self, tab: Tab) -> None:
        deadline = time.monotonic() + FINAL_VISIT_S
        while time.monotonic() < deadline:
            if await self._visit(tab, 1.0, until_resumed=True):
                return
            await asyncio.sleep(0.5)
        tab.failures["final visit never resumed"] += 1

    async def _visit(self, tab: Tab, online_s: float, until_resumed: bool = False) -> bool:
        """One connection; True when a `resumed` frame came. Network trouble ends it early."""
        try:
            async with connect(
                f"ws://127.0.0.1:{self.ws_port}/", compression=None, open_timeout=5
            ) as conn:
                tab.connects += 1
                auth: dict[str, Any] = {"type": "auth", "token": self.tokens[tab.user]}
                if tab.cursor is not None:
                    auth["resume"] = tab.cursor
                await conn.send(json.dumps(auth))
                return await self._listen(tab, conn, online_s, until_resumed)
        except NETWORK_ERRORS as exc:
            tab.failures[type(exc).__name__] += 1
            return False

    async def _listen(
        self, tab: Tab, conn: ClientConnection, online_s: float, until_resumed: bool
    ) -> bool:
        deadline, resumed = time.monotonic() + online_s, False
        while (left := deadline - time.monotonic()) > 0 or (until_resumed and not resumed):
            try:
                data = await asyncio.wait_for(conn.recv(), max(left, 5.0 if until_resumed else 0))
            except TimeoutError:
                return resumed
            frame = json.loads(data)
            tab.take(frame)
            if frame.get("type") == "resumed":
                resumed = True
                if not frame.get("recovered"):
                    await self._reload(tab, frame["cursor"])
        return resumed

    async def _reload(self, tab: Tab, cursor: str) -> None:
        """The gateway cannot replay from this cursor: read the whole inbox over REST (as a
        page does) and carry on live from the cursor it answered with."""
        items: set[int] = set()
        page: str | None = None
        headers = {"Authorization": f"Bearer {self.tokens[tab.user]}"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.api_port}") as http:
            while True:
                params: dict[str, Any] = {"limit": REST_PAGE}
                if page:
                    params["cursor"] = page
                reply = await http.get("/v1/inbox", params=params, headers=headers, timeout=10)
                reply.raise_for_status()  # a failed reload keeps the old cursor: asked again
                body = reply.json()
                items.update(int(i["id"]) for i in body["items"])
                if not (page := body.get("next_cursor")):
                    break
        tab.reloaded_ids |= items
        tab.cursor, tab.last_seq, tab.reloads = cursor, decode(cursor), tab.reloads + 1


async def stop_quietly(task: asyncio.Task[None]) -> None:
    """Cancel a roaming task that a failure left behind."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
