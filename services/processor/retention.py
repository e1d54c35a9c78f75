"""Retention per tenant (DESIGN §15): old rows are deleted in small batches, never in one
long statement.

How long rows are kept is each tenant's setting (``tenants.settings.retention``), else the
deployment's (``HERALD_RETENTION_*``: 180 days for events, notifications, deliveries,
attempts, digests, reminders and escalation steps, 30 for rejected messages). Every
``HERALD_RETENTION_INTERVAL_S`` the sweeper walks each tenant's rows oldest first, by index, a
page of ``HERALD_RETENTION_BATCH`` rows per short transaction, deleting the page's rows that
qualify and pausing between pages so the pipeline's transactions never queue behind it.
Per tenant, in this order:

* delivery attempts of its deliveries, older than ``attempts_days``;
* deliveries older than ``deliveries_days`` in a final state (sent, failed, denied, skipped,
  digested) — never one still to be sent or waiting for a digest; their attempts go with them;
* notifications older than ``notifications_days`` with no delivery still to be sent and no
  escalation step still planned; their deliveries and steps go with them;
* processed and failed events older than ``events_days`` and than ``notifications_days``
  (an event outlives its notifications), with no notification left;
* digests older than ``digests_days`` whose own delivery is no longer to be sent; reminders
  sent or cancelled and escalation steps that ended, longer ago than ``reminders_days`` and
  ``escalations_days`` — never a scheduled reminder or a planned step;
* rejected messages that name it, older than ``rejected_days``;
* and once for all: rejected messages that name no registered tenant (tenant NULL), older
  than ``HERALD_RETENTION_REJECTED_DAYS``.

Events still ``received`` are never deleted. Several processor replicas may run the sweeper:
a page is swept under a transaction-scoped advisory lock per (table, tenant), and a replica
that cannot take it leaves that walk to the one that has it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import transaction
from libs.common.db.locks import try_transaction_lock
from libs.common.db.models import Tenant, utcnow
from libs.common.tenancy.tenant_settings import stored_settings
from services.processor.retention_walks import (
    DAY,
    Cutoffs,
    Key,
    RetentionSettings,
    Walk,
    rejected_walk,
    tenant_walks,
)

__all__ = ["RetentionSettings", "Sweeper", "start", "stop"]  # RetentionSettings: its old home

log = logging.getLogger("herald.retention")

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
