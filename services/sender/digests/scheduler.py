"""The digest scheduler: a loop in every sender; the database decides who builds what.

Each tick drains due schedules in batches (``digest_workers`` batches at a time), one
transaction per batch. A batch that fails is rolled back and retried schedule by schedule,
so one bad schedule (say, a time zone an operator mistyped in the admin) is postponed by
``digest_retry_s`` and cannot hold back everyone else's digest. After each commit the sender
is nudged; a lost nudge only costs the send loop's sweep interval.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.bus import Bus
from libs.common.bus.nudges import nudge_sender
from libs.common.clients.mediator_client import MediatorClient, MediatorUnavailable
from libs.common.db.engine import transaction
from libs.common.db.models import DigestSchedule, utcnow
from libs.common.runtime.batching import isolate
from services.sender.digests import metrics as m
from services.sender.digests.build import BatchResult, build_batch, claim_due, key_of
from services.sender.digests.collect import Key
from services.sender.digests.housekeeping import (
    provision_defaults,
    release_never_waiting,
    release_unscheduled,
)
from services.sender.digests.settings import DigestSettings

log = logging.getLogger("herald.digests")

MAX_BATCHES_PER_TICK = 1_000  # per worker: 200,000 schedules at the default batch size
MEDIATOR_RETRY_S = 60.0  # digests wait this long for an unreachable mediator, then try again


@dataclass
class TickResult:
    digests: int = 0
    items: int = 0
    empty: int = 0
    failed: int = 0
    released: int = 0
    provisioned: int = 0


class DigestScheduler:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        bus: Bus | None,
        mediator: MediatorClient,
        settings: DigestSettings,
    ) -> None:
        self._sessions, self._bus, self._s = sessions, bus, settings
        self._mediator = mediator
        self._housekept_at: datetime | None = None

    async def run_forever(self) -> None:
        while True:
            try:
                await self.tick()
            except Exception:
                log.exception("digest tick failed; trying again next interval")
            await asyncio.sleep(self._s.digest_interval_s)

    async def tick(self, now: datetime | None = None) -> TickResult:
        now = now or utcnow()
        total = TickResult()
        if self._housekeeping_due(now):
            await self.housekeeping(now, total)
        await asyncio.gather(*(self._drain(now, total) for _ in range(self._s.digest_workers)))
        return total

    def _housekeeping_due(self, now: datetime) -> bool:
        interval = timedelta(seconds=self._s.digest_housekeeping_interval_s)
        if self._housekept_at is not None and now - self._housekept_at < interval:
            return False
        self._housekept_at = now
        return True

    async def housekeeping(self, now: datetime, total: TickResult) -> None:
        async with transaction(self._sessions) as session:
            total.provisioned += await provision_defaults(session, now, self._s)
            released = await release_unscheduled(session, now)
            released += await release_never_waiting(session, now)
        total.released += len(released)
        m.PROVISIONED.inc(total.provisioned)
        m.RELEASED.inc(len(released))
        await self._nudge(released)

    async def _drain(self, now: datetime, total: TickResult) -> None:
        for _ in range(MAX_BATCHES_PER_TICK):  # bounded even if postponing keeps failing
            if await self._batch(now, total) < self._s.digest_batch:
                return

    async def _batch(self, now: datetime, total: TickResult, only: Key | None = None) -> int:
        claimed: list[Key] = []
        try:
            async with transaction(self._sessions) as session:
                schedules = await claim_due(session, now, self._s.digest_batch, only)
                claimed = [key_of(s) for s in schedules]
                result = None
                if schedules:
                    result = await build_batch(session, schedules, now, self._mediator)
        except MediatorUnavailable as exc:
            log.warning("mediator unavailable; %d digests retried soon: %s", len(claimed), exc)
            for key in claimed:
                await self._postpone(key, now, MEDIATOR_RETRY_S)
            return 0  # end this drain: the mediator needs a moment
        except Exception as exc:
            if not claimed:
                raise  # the database itself is failing: end this tick
            await self._isolate(now, total, claimed, exc)
            return len(claimed)
        if result is not None:
            self._account(result, total)
            await self._nudge(result.delivery_ids)
        return len(claimed)

    async def _isolate(
        self, now: datetime, total: TickResult, claimed: list[Key], exc: Exception
    ) -> None:
        # each schedule alone settles its own failure through this same path (claimed alone,
        # it is the culprit); what escapes one is the database failing: that ends the tick
        await isolate(
            claimed,
            exc,
            lambda key: self._batch(now, total, only=key),
            lambda key, _exc: self._give_up(key, now, total),
            splitting=_splitting,
            stop_on=(Exception,),
        )

    async def _give_up(self, key: Key, now: datetime, total: TickResult) -> None:
        log.exception("digest for %s failed; postponing %.0fs", key, self._s.digest_retry_s)
        total.failed += 1
        m.FAILED.inc()
        await self._postpone(key, now, self._s.digest_retry_s)

    async def _postpone(self, key: Key, now: datetime, delay_s: float) -> None:
        """Nothing is lost: the items stay DIGEST and window_start is untouched."""
        try:
            async with transaction(self._sessions) as session:
                await session.execute(
                    update(DigestSchedule)
                    .where(
                        DigestSchedule.tenant == key[0],
                        DigestSchedule.user_id == key[1],
                        DigestSchedule.channel == key[2],
                        DigestSchedule.next_run_at <= now,
                    )
                    .values(next_run_at=now + timedelta(seconds=delay_s))
                )
        except Exception:
            log.exception("could not postpone the digest of %s", key)

    @staticmethod
    def _account(result: BatchResult, total: TickResult) -> None:
        total.digests += len(result.sizes)
        total.empty += result.empty
        m.EMPTY.inc(result.empty)
        for channel, size in result.sizes:
            total.items += size
            m.BUILT.labels(channel).inc()
            m.ITEMS.observe(size)
        for lag in result.lags_s:
            m.LAG.observe(max(lag, 0.0))

    async def _nudge(self, delivery_ids: list[int]) -> None:
        if self._bus is not None:  # a lost nudge is logged; the send loop sweeps PENDING rows
            await nudge_sender(self._bus, delivery_ids)


def _splitting(size: int, _exc: Exception) -> None:
    log.warning("digest batch of %d failed; retrying one by one", size)


def start(
    sessions: async_sessionmaker[AsyncSession],
    bus: Bus,
    mediator: MediatorClient,
    settings: DigestSettings | None = None,
) -> list[asyncio.Task[None]]:
    """The scheduler loop as a task for the sender's lifespan (none if HERALD_DIGEST_ENABLED
    is false); cancelling the task stops it — an open batch simply rolls back."""
    settings = settings or DigestSettings()
    if not settings.digest_enabled:
        return []
    scheduler = DigestScheduler(sessions, bus, mediator, settings)
    return [asyncio.create_task(scheduler.run_forever())]
