"""The sender's loop: claim a batch (committed), screen it with the mediator, send each,
hand each outcome to the recorder (group commit)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.bus import Bus, Message
from libs.common.clients.mediator_client import MediatorClient
from libs.common.db.engine import is_sqlite, transaction
from libs.common.delivery.channels import registry
from libs.common.templating.email_layout import LayoutBook
from services.sender import metrics as m
from services.sender.breaker import Breakers
from services.sender.claim import Claimed, claim_due, due_depth
from services.sender.judge import held, judge
from services.sender.outcome import Outcome, failed, sent
from services.sender.permission import screen
from services.sender.providers.base import (
    Address,
    OutgoingMessage,
    Provider,
)
from services.sender.recorder import OutcomeRecorder
from services.sender.settings import SenderSettings
from services.sender.visibility import record as record_visibility

log = logging.getLogger("herald.sender")

DEPTH_INTERVAL_S = 10.0  # a COUNT over the due index; not on every sweep
LOOP_ERROR_PAUSE_S = 1.0
EMAIL = "email"


class Sender:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        providers: dict[str, Provider],
        mediator: MediatorClient,
        settings: SenderSettings,
        bus: Bus | None = None,  # for the counts push when an item becomes visible
        clock: Callable[[], float] = time.monotonic,  # the breakers' (tests pass an hour)
    ) -> None:
        self._sessions, self._providers, self._mediator = sessions, providers, mediator
        self._s, self._bus = settings, bus
        self.breakers = Breakers(settings, clock)  # per channel: a provider down as a whole
        self.recorder = OutcomeRecorder(sessions, settings.sender_lease_s)
        self._layouts = LayoutBook(sessions)  # each tenant's From name (DESIGN §15)
        self._wake = asyncio.Event()
        self._stopping = False
        self._depth_at = 0.0

    async def on_nudge(self, _message: Message) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Finish the batch in hand, record its outcomes, then leave ``run_forever``."""
        self._stopping = True
        self._wake.set()

    async def run_forever(self) -> None:
        writer = asyncio.create_task(self.recorder.run())
        # several loops: one claims and checks while another's batch is on the wire. SQLite
        # has no SKIP LOCKED and one writer at a time, so it gets one loop.
        count = 1 if is_sqlite(self._s.database_url) else self._s.sender_loops
        loops = [asyncio.create_task(self._loop()) for _ in range(count)]
        try:
            await asyncio.gather(*loops)
        finally:
            for task in (*loops, writer):
                task.cancel()
            await asyncio.gather(*loops, writer, return_exceptions=True)
            await self.recorder.flush()

    async def _loop(self) -> None:
        while not self._stopping:
            busy = await self._step()
            if busy < self._s.sender_batch and not self._stopping:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._s.sender_sweep_interval_s)

    async def _step(self) -> int:
        try:
            await self._gauge_depth()
            return await self.run_once()
        except Exception:
            log.exception("send loop failed; retrying")
            await asyncio.sleep(LOOP_ERROR_PAUSE_S)
            return 0

    async def run_once(self) -> int:
        """One batch; returns how many deliveries were claimed. Outcomes may still be in the
        recorder when it returns (``await sender.recorder.flush()`` to write them now)."""
        if self.recorder.backlog >= 2 * self._s.sender_batch:
            await self.recorder.flush()  # back-pressure: never outrun the database
        async with transaction(self._sessions) as session:
            batch = await claim_due(
                session, self._s.sender_batch, self._s.sender_lease_s, self._s.sender_max_attempts,
                skip_channels=self.breakers.skipped_channels(),  # their provider is down
            )  # fmt: skip
        if not batch:
            return 0
        screened = await screen(self._mediator, batch, self._s.sender_max_attempts)
        # visible in the inbox before any channel tells the user about it
        await record_visibility(self._sessions, self._bus, screened.verdicts)
        self.recorder.add(screened.outcomes)
        await asyncio.gather(*(self._deliver_in_order(c) for c in _per_user(screened.allowed)))
        return len(batch)

    async def _deliver_in_order(self, chain: list[Claimed]) -> None:
        for c in chain:
            await self._deliver(c)

    async def _deliver(self, c: Claimed) -> None:
        provider = self._providers.get(c.channel)
        if provider is None:
            why = f"no provider for channel {c.channel} on this sender (docs/sender.md)"
            self.recorder.add([failed(c, why)])
            return
        wait_s = self.breakers[c.channel].admit()
        if wait_s is not None:  # the provider is down: not an attempt
            self.recorder.add([held(c, wait_s)])
            return
        started = time.perf_counter()
        outcome = await self._attempt(provider, c)
        if outcome.kind == "sent":
            m.LATENCY.labels(c.channel).observe(time.perf_counter() - started)
        self.recorder.add([outcome])

    async def _attempt(self, provider: Provider, c: Claimed) -> Outcome:
        spec = registry().get(c.channel)
        own = spec.address_of(c) if spec is not None else None
        to = Address(c.tenant, c.user_id, c.email, c.telegram_chat_id, c.phone, own)
        name = await self._layouts.sender_name(c.tenant) if c.channel == EMAIL else None
        message = OutgoingMessage(c.id, c.subject, c.body, c.body_html, c.notification_id, name)
        breaker = self.breakers[c.channel]
        try:
            result = await provider.send(to, message)
        except Exception as exc:
            return judge(c, exc, breaker, self._s.sender_max_attempts)
        breaker.answered()
        return sent(c, result.provider_message_id)

    async def _gauge_depth(self) -> None:
        now = time.monotonic()
        if now - self._depth_at < DEPTH_INTERVAL_S:
            return
        self._depth_at = now
        async with self._sessions() as session:
            m.DUE.set(await due_depth(session))


def _per_user(allowed: list[Claimed]) -> list[list[Claimed]]:
    """Browser pushes of one user one after the other, in claim (notification) order, so they
    leave this sender in cursor order; everything else concurrently, one chain each."""
    chains: dict[object, list[Claimed]] = {}
    for c in sorted(allowed, key=lambda c: (c.notification_id or 0, c.id)):
        key = (c.tenant, c.user_id) if c.channel == "browser" else c.id
        chains.setdefault(key, []).append(c)
    return list(chains.values())
