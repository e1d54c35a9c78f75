"""Retention per tenant (DESIGN §15): the sweeper deletes each tenant's expired rows — by the
tenant's own settings or the deployment's — page by page, keeps whatever is still to be sent,
processed or read, and the pipeline keeps processing while it runs. (A million-row run, once
by hand: ``bench/retention.py``.)"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import make_engine, make_sessionmaker, transaction
from libs.common.db.migrate import upgrade_async
from libs.common.db.models import (
    Delivery,
    DeliveryAttempt,
    Event,
    Notification,
    Tenant,
    utcnow,
)
from libs.common.tenancy.tenant_store import ensure_tenants
from services.processor.retention import RetentionSettings, Sweeper
from tests.integration.services.processor.support import event, person, processor, store

Sessions = async_sessionmaker[AsyncSession]
NOW = utcnow()
BATCH = 7  # small: the tenants' rows take many pages


def days_ago(n: float) -> datetime:
    return NOW - timedelta(days=n)


async def _event_with_trail(
    s: AsyncSession, tenant: str, age_days: float, statuses: Sequence[str], tag: str
) -> None:
    """A processed event, one notification, a delivery per status, an attempt each."""
    at = days_ago(age_days)
    row = Event(tenant=tenant, source="tenders", source_event_id=tag, type="t", status="processed",
                received_at=at, body={})  # fmt: skip
    s.add(row)
    await s.flush()
    note = Notification(tenant=tenant, event_id=row.id, user_id="u-1", reason="direct:a",
                        source="tenders", type="t", entity_type="tender", entity_id=tag,
                        title=tag, body=tag, created_at=at)  # fmt: skip
    s.add(note)
    await s.flush()
    for n, status in enumerate(statuses):
        d = Delivery(notification_id=note.id, tenant=tenant, user_id="u-1", source="tenders",
                     channel=f"ch{n}", status=status, created_at=at)  # fmt: skip
        s.add(d)
        await s.flush()
        s.add(DeliveryAttempt(delivery_id=d.id, attempt=1, outcome="sent", at=at))


async def _seed(sessions: Sessions) -> None:
    retention = {"events_days": 20, "notifications_days": 20, "deliveries_days": 10,
                 "attempts_days": 5}  # fmt: skip
    async with transaction(sessions) as s:
        await s.execute(
            update(Tenant).where(Tenant.key == "acme").values(settings={"retention": retention})
        )
        for n in range(10):  # acme, 30 days: all of it goes
            await _event_with_trail(s, "acme", 30, ["SENT", "FAILED", "SKIPPED"], f"a-old-{n}")
        for n in range(5):  # acme, 15 days: deliveries go, the notification and event stay
            await _event_with_trail(s, "acme", 15, ["SENT", "DENIED"], f"a-mid-{n}")
        for n in range(5):  # acme, 7 days: only the attempts go
            await _event_with_trail(s, "acme", 7, ["SENT"], f"a-new-{n}")
        # acme, 30 days but a delivery still waits for a digest: all of its trail stays
        await _event_with_trail(s, "acme", 30, ["DIGEST", "SENT"], "a-waiting")
        for n in range(10):  # default, 200 days: gone by the deployment's 180
            await _event_with_trail(s, "default", 200, ["SENT"], f"d-old-{n}")
        for n in range(10):  # default, 30 days: kept (180 days)
            await _event_with_trail(s, "default", 30, ["SENT"], f"d-kept-{n}")
        s.add_all(
            [Event(status="rejected", raw=b"x", error=f"old {n}", received_at=days_ago(40))
             for n in range(9)]
            + [Event(status="rejected", raw=b"x", error="recent", received_at=days_ago(10)),
               Event(tenant="default", source="tenders", source_event_id="stuck", type="t",
                     status="received", received_at=days_ago(300), body={})]
        )  # fmt: skip


async def _count(sessions: Sessions, model: Any, *where: Any) -> int:
    async with sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _batches(table: str) -> float:
    return REGISTRY.get_sample_value("herald_retention_batches_total", {"table": table}) or 0.0


def sweeper(sessions: Sessions) -> Sweeper:
    return Sweeper(sessions, RetentionSettings(retention_batch=BATCH, retention_pause_s=0))


async def test_each_tenants_expired_rows_go_in_batches_and_nothing_else(
    sessions: Sessions,
) -> None:
    await _seed(sessions)
    before = {t: _batches(t) for t in ("deliveries", "events", "rejected")}
    deleted = await sweeper(sessions).sweep()
    assert deleted["events"] == 10 + 10  # acme's 30-day old ones, default's 200-day old ones
    assert deleted["notifications"] == 10 + 10
    # acme's final ones older than 10 days (the waiting event's sent one too), default's old
    assert deleted["deliveries"] == 10 * 3 + 5 * 2 + 1 + 10
    assert deleted["rejected"] == 9
    acme, default = Event.tenant == "acme", Event.tenant == "default"
    assert await _count(sessions, Event, acme) == 5 + 5 + 1  # 15 and 7 days, the waiting one
    assert await _count(sessions, Event, default) == 10 + 1  # 30 days, and the stuck one
    assert await _count(sessions, Event, Event.status == "received") == 1  # never deleted
    assert await _count(sessions, Event, Event.status == "rejected") == 1
    assert await _count(sessions, Delivery, Delivery.tenant == "acme") == 5 + 1  # new, waiting
    assert await _count(sessions, Delivery, Delivery.status == "DIGEST") == 1
    # attempts: acme keeps none older than 5 days, default its 30-day old ones
    assert await _count(sessions, DeliveryAttempt) == 10
    # many short transactions, not one long statement: at least one page per BATCH rows
    assert _batches("deliveries") - before["deliveries"] >= math.ceil(51 / BATCH)
    assert _batches("rejected") - before["rejected"] >= math.ceil(9 / BATCH)
    assert await sweeper(sessions).sweep() == dict.fromkeys(deleted, 0)  # nothing left to do


async def test_the_pipeline_keeps_processing_while_the_sweeper_runs(
    sessions: Sessions, database_url: str
) -> None:
    await _seed(sessions)
    async with transaction(sessions) as s:
        s.add_all([person(f"u-{n}") for n in range(20)])
    fresh = [
        await store(
            sessions, event(actor={"id": "u-boss"}, recipients={"assignee": [f"u-{n % 20}"]})
        )
        for n in range(60)
    ]
    worker = await processor(sessions, database_url)
    swept, processed = await asyncio.gather(
        sweeper(sessions).sweep(),
        _process_in_chunks(worker, fresh),
    )
    assert processed == len(fresh) and swept["events"] == 20
    assert await _count(sessions, Event, Event.id.in_(fresh), Event.status == "processed") == 60
    assert await _count(sessions, Notification, Notification.event_id.in_(fresh)) == 60


async def _process_in_chunks(worker: Any, ids: list[str]) -> int:
    done = 0
    for start in range(0, len(ids), 10):
        done += await worker.process_ids(ids[start : start + 10])
        await asyncio.sleep(0)
    return int(done)


async def test_the_embedded_database_is_swept_too(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'herald.db'}"
    await upgrade_async(url)
    engine = make_engine(url)
    try:
        lite = make_sessionmaker(engine)
        async with transaction(lite) as s:
            await ensure_tenants(s, ["acme"])
        await _seed(lite)
        deleted = await sweeper(lite).sweep()
        assert (deleted["events"], deleted["deliveries"], deleted["rejected"]) == (20, 51, 9)
    finally:
        await engine.dispose()
