"""Retention per tenant (DESIGN §15): old rows are deleted in small batches, never in one
long statement.

How long rows are kept is each tenant's setting (``tenants.settings.retention``), else the
deployment's (``HERALD_RETENTION_*``: 180 days for events, notifications, deliveries and
attempts, 30 for rejected messages). Every ``HERALD_RETENTION_INTERVAL_S`` the sweeper walks
each tenant's rows oldest first, by index, a page of ``HERALD_RETENTION_BATCH`` rows per short
transaction, deleting the page's rows that qualify and pausing between pages so the pipeline's
transactions never queue behind it. Per tenant, in this order:

* delivery attempts of its deliveries, older than ``attempts_days``;
* deliveries older than ``deliveries_days`` in a final state (sent, failed, denied, skipped,
  digested) — never one still to be sent or waiting for a digest; their attempts go with them;
* notifications older than ``notifications_days`` with no delivery still to be sent; their
  deliveries go with them (a delivery is kept at most as long as its notification);
* processed and failed events older than ``events_days`` and than ``notifications_days``
  (an event outlives its notifications), with no notification left;
* and once for all: rejected messages older than ``HERALD_RETENTION_REJECTED_DAYS`` (their
  tenant is a producer's unchecked claim, so no tenant's setting applies).

Events still ``received`` are never deleted. Several processor replicas may run the sweeper:
a page is swept under a transaction-scoped advisory lock per (table, tenant), and a replica
that cannot take it leaves that walk to the one that has it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from pydantic import Field
from sqlalchemy import Delete, and_, delete, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import transaction
from libs.common.db.locks import try_transaction_lock
from libs.common.db.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Event,
    EventStatus,
    Notification,
    Tenant,
    utcnow,
)
from libs.common.settings import HeraldSettings
from libs.common.tenant_settings import RetentionDays, stored_settings

log = logging.getLogger("herald.retention")

DAY = timedelta(days=1)
FINAL = [s.value for s in (DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.DENIED,
                           DeliveryStatus.SKIPPED, DeliveryStatus.DIGESTED)]  # fmt: skip
LIVE = [s.value for s in (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.DIGEST)]
DONE = [EventStatus.PROCESSED.value, EventStatus.FAILED.value]

DELETED = Counter(
    "herald_retention_deleted_total",
    "Rows the retention sweeper deleted (not counting what a delete cascaded to)",
    ["table", "tenant"],
)
BATCHES = Counter(
    "herald_retention_batches_total",
    "Pages of expired rows the sweeper looked at, one short transaction each",
    ["table"],
)
SWEEP_SECONDS = Histogram(
    "herald_retention_sweep_seconds",
    "One sweep over every tenant",
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600),
)
LAST_SWEEP = Gauge("herald_retention_last_sweep_timestamp_seconds", "When a sweep last finished")


class RetentionSettings(HeraldSettings):
    retention_enabled: bool = Field(default=True, description="run the sweeper here")
    retention_interval_s: float = Field(default=300.0, gt=0, description="between sweeps")
    retention_batch: int = Field(
        default=1000, ge=1, le=10_000, description="rows a transaction looks at and deletes"
    )
    retention_pause_s: float = Field(
        default=0.02, ge=0, le=10, description="between two batches: the pipeline goes first"
    )
    retention_events_days: int = Field(default=180, ge=1, le=36_500)
    retention_notifications_days: int = Field(default=180, ge=1, le=36_500)
    retention_deliveries_days: int = Field(default=180, ge=1, le=36_500)
    retention_attempts_days: int = Field(default=180, ge=1, le=36_500)
    retention_rejected_days: int = Field(default=30, ge=1, le=36_500)


@dataclass(frozen=True)
class Cutoffs:
    """Rows older than these go (per table, for one tenant)."""

    events: datetime
    notifications: datetime
    deliveries: datetime
    attempts: datetime

    @classmethod
    def of(cls, now: datetime, own: RetentionDays, s: RetentionSettings) -> Cutoffs:
        def days(mine: int | None, default: int) -> datetime:
            return now - (mine or default) * DAY

        return cls(
            events=days(own.events_days, s.retention_events_days),
            notifications=days(own.notifications_days, s.retention_notifications_days),
            deliveries=days(own.deliveries_days, s.retention_deliveries_days),
            attempts=days(own.attempts_days, s.retention_attempts_days),
        )


Page = Sequence[Any]  # the ids of one page of the walk
Key = tuple[datetime, Any]  # (time, id): where a walk goes on from


@dataclass(frozen=True)
class Walk:
    """One table's expired rows of one tenant, walked oldest first by ``walked``'s
    (tenant, time) index; ``doomed(page)`` deletes what of a page qualifies."""

    table: str  # the metric label
    tenant: str | None
    walked: Any  # the model walked: Event, Notification or Delivery
    cutoff: datetime
    doomed: Callable[[Page], Delete]

    def page(self, after: Key | None, limit: int) -> Any:
        stamp, ident = _time(self.walked), self.walked.id
        tenant = self.walked.tenant
        mine = tenant.is_(None) if self.tenant is None else tenant == self.tenant
        stmt = select(ident, stamp).where(mine, stamp < self.cutoff)
        if after is not None:
            stmt = stmt.where(or_(stamp > after[0], and_(stamp == after[0], ident > after[1])))
        return stmt.order_by(stamp, ident).limit(limit)


def _time(model: Any) -> Any:
    return model.received_at if model is Event else model.created_at


def tenant_walks(tenant: str, cut: Cutoffs) -> list[Walk]:
    live = exists().where(Delivery.notification_id == Notification.id, Delivery.status.in_(LIVE))
    noted = exists().where(Notification.event_id == Event.id)
    events_cut = min(cut.events, cut.notifications)  # an event outlives its notifications
    return [
        Walk("delivery_attempts", tenant, Delivery, cut.attempts, lambda ids: delete(
            DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(ids),
                                   DeliveryAttempt.at < cut.attempts)),
        Walk("deliveries", tenant, Delivery, cut.deliveries, lambda ids: delete(Delivery).where(
            Delivery.id.in_(ids), Delivery.status.in_(FINAL))),
        Walk("notifications", tenant, Notification, cut.notifications, lambda ids: delete(
            Notification).where(Notification.id.in_(ids), ~live)),
        Walk("events", tenant, Event, events_cut, lambda ids: delete(Event).where(
            Event.id.in_(ids), Event.status.in_(DONE), ~noted)),
    ]  # fmt: skip


def rejected_walk(cutoff: datetime) -> Walk:
    return Walk("rejected", None, Event, cutoff, lambda ids: delete(Event).where(
        Event.id.in_(ids), Event.status == EventStatus.REJECTED.value))  # fmt: skip


class Sweeper:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: RetentionSettings,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions, self._s, self._clock = sessions, settings, clock
        # where the attempts walk of each tenant got to: older deliveries have no old attempts
        # left (a restart walks them once more)
        self._attempts_done: dict[str, Key] = {}

    async def run_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:  # an outage or a bug: logged, and the next sweep tries again
                log.exception("retention sweep failed")
            await asyncio.sleep(self._s.retention_interval_s)

    async def sweep(self) -> dict[str, int]:
        """One pass over every tenant; rows deleted per table."""
        started, now = time.monotonic(), self._clock()
        async with self._sessions() as session:
            tenants = {
                row.key: stored_settings(row.key, row.settings).retention
                for row in await session.scalars(select(Tenant))
            }
        walks = [rejected_walk(now - self._s.retention_rejected_days * DAY)]
        for tenant, own in sorted(tenants.items()):
            walks[:0] = tenant_walks(tenant, Cutoffs.of(now, own, self._s))
        deleted: dict[str, int] = {}
        for walk in walks:
            deleted[walk.table] = deleted.get(walk.table, 0) + await self._walk(walk)
        SWEEP_SECONDS.observe(time.monotonic() - started)
        LAST_SWEEP.set_to_current_time()
        if any(deleted.values()):
            log.info("retention: deleted %s", deleted)
        return deleted

    async def _walk(self, walk: Walk) -> int:
        resumes = walk.table == "delivery_attempts" and walk.tenant is not None
        after = self._attempts_done.get(str(walk.tenant)) if resumes else None
        total = 0
        while True:
            async with transaction(self._sessions) as session:
                if not await _claim(session, walk):
                    return total  # another replica is on it
                rows = (await session.execute(walk.page(after, self._s.retention_batch))).all()
                if rows:
                    result = await session.execute(walk.doomed([r[0] for r in rows]))
                    gone = max(int(getattr(result, "rowcount", 0) or 0), 0)
            if not rows:
                return total
            total += gone
            BATCHES.labels(walk.table).inc()
            DELETED.labels(walk.table, walk.tenant or "").inc(gone)
            after = (rows[-1][1], rows[-1][0])
            if resumes:
                self._attempts_done[str(walk.tenant)] = after
            if len(rows) < self._s.retention_batch:
                return total
            await asyncio.sleep(self._s.retention_pause_s)


async def _claim(session: AsyncSession, walk: Walk) -> bool:
    """One replica per (table, tenant) at a time: a lock held until this page commits."""
    return await try_transaction_lock(session, f"herald.retention:{walk.table}:{walk.tenant}")


def start(
    sessions: async_sessionmaker[AsyncSession], settings: RetentionSettings
) -> asyncio.Task[None] | None:
    """The sweeper as a task of the processor (None when HERALD_RETENTION_ENABLED=false)."""
    if not settings.retention_enabled:
        return None
    return asyncio.create_task(Sweeper(sessions, settings).run_forever())


async def stop(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
