"""Digests keep the processor's priority rules (DESIGN §6): a critical item never waits, the
browser has no digest, and a low item is never turned into an instant e-mail."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import Delivery, DigestSchedule, Notification
from tests.integration.services.sender.digest_support import (
    add_schedule,
    add_waiting,
    count,
    digests,
    scheduler,
    statuses,
    utc,
)

Sessions = async_sessionmaker[AsyncSession]
START = utc(2026, 11, 26, 6)


async def set_priority(sessions: Sessions, delivery_id: int, priority: str) -> None:
    async with sessions() as s, s.begin():
        note = select(Delivery.notification_id).where(Delivery.id == delivery_id)
        await s.execute(
            update(Notification)
            .where(Notification.id == note.scalar_subquery())
            .values(priority=priority)
        )


async def reasons(sessions: Sessions, ids: list[int]) -> list[str]:
    async with sessions() as s:
        return [(await s.get(Delivery, i)).reason for i in ids]  # type: ignore[union-attr]


async def test_a_low_item_of_a_switched_off_digest_stays_in_the_inbox(sessions: Sessions) -> None:
    await add_schedule(sessions, "u-1", window_start=START)
    async with sessions() as s, s.begin():  # switched off, its final digest already built
        await s.execute(update(DigestSchedule).values(enabled=False, next_run_at=None))
    low = await add_waiting(sessions, "u-1", START + timedelta(hours=1))
    normal = await add_waiting(sessions, "u-1", START + timedelta(hours=1))
    await set_priority(sessions, low, "low")
    result = await scheduler(sessions).tick(START + timedelta(hours=2))
    assert await statuses(sessions, [low, normal]) == ["SKIPPED", "PENDING"]
    assert result.released == 1  # only the normal one is sent
    [why_low, why_normal] = await reasons(sessions, [low, normal])
    assert "low priority" in why_low and "inbox only" in why_low
    assert why_normal.startswith("digest off, sent instantly")


async def test_critical_and_browser_items_are_released_not_digested(sessions: Sessions) -> None:
    await add_schedule(sessions, "u-1", window_start=START)  # next run: 09:00 Moscow
    critical = await add_waiting(sessions, "u-1", START + timedelta(hours=1))
    await set_priority(sessions, critical, "critical")
    browser = await add_waiting(sessions, "u-1", START + timedelta(hours=1), channel="browser")
    waits = await add_waiting(sessions, "u-1", START + timedelta(hours=1))
    result = await scheduler(sessions).tick(START + timedelta(minutes=90))  # before the run
    assert await statuses(sessions, [critical, browser, waits]) == ["PENDING", "PENDING", "DIGEST"]
    assert result.provisioned == 0 and await count(sessions, DigestSchedule) == 1  # no browser one
    [why_critical, why_browser] = await reasons(sessions, [critical, browser])
    assert "critical" in why_critical and "browser has no digest" in why_browser


async def test_a_digest_never_carries_a_critical_item(sessions: Sessions) -> None:
    """Between two housekeeping sweeps, the build itself leaves a critical item out."""
    run = await add_schedule(sessions, "u-1", window_start=START)
    digester = scheduler(sessions, digest_housekeeping_interval_s=10**7)
    await digester.tick(START + timedelta(minutes=1))  # the one housekeeping of this test
    critical = await add_waiting(sessions, "u-1", START + timedelta(hours=1))
    await set_priority(sessions, critical, "critical")
    normal = await add_waiting(sessions, "u-1", START + timedelta(hours=1))
    await digester.tick(run + timedelta(minutes=1))
    [built] = await digests(sessions)
    assert built.item_ids == [normal]
    assert await statuses(sessions, [critical]) == ["DIGEST"]  # the next sweep releases it
