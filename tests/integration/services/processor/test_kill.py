"""A processor process (`herald run processor`) SIGKILLed in the middle of a large event loses
nothing: its transaction dies with it, and the restarted processor makes every notification
and delivery of the event, none ``failed`` (DESIGN §5, §13)."""

from __future__ import annotations

import signal
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from libs.common.db.models import Delivery, Event, Notification
from services.processor.app import create_app
from tests.apps import eventually, running
from tests.integration.services.processor.support import add, event, person, settings, store
from tests.processes import herald_process

RECIPIENTS = 5_000
# mid-event: a processor's transaction has written rows and waits between two chunks, or
# (the bug this test was written for) rows of the event are already visible outside it
MID_EVENT = (
    "SELECT (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
    "AND backend_xid IS NOT NULL AND state = 'idle in transaction') "
    "+ (SELECT count(*) FROM notifications WHERE event_id = :big)"
)


async def _count(sessions: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _statuses(sessions: async_sessionmaker[AsyncSession]) -> list[tuple[str, str]]:
    async with sessions() as session:
        rows = await session.execute(select(Event.source_event_id, Event.status))
        return sorted((str(i), str(s)) for i, s in rows.all())


async def test_sigkill_in_the_middle_of_a_large_event_loses_nothing(
    engine: AsyncEngine,
    database_url: str,
    sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    users = [f"big-{i}" for i in range(RECIPIENTS)]
    await add(sessions, person("u-17"), *(person(u) for u in users))
    env = {
        "HERALD_DATABASE_URL": database_url,
        "HERALD_AMQP_URL": "memory://processor-kill",  # the sweep finds the events
        "HERALD_PROCESSOR_SWEEP_AGE_S": "0",
        "HERALD_PROCESSOR_SWEEP_INTERVAL_S": "0.2",
    }
    async with herald_process("processor", env, tmp_path / "first.log") as first:
        warm = await store(sessions, event(id="warm"))  # the catalog is cached after this one

        async def warmed() -> bool:
            return ("warm", "processed") in await _statuses(sessions)

        await eventually(warmed, timeout_s=30, interval_s=0.1)
        big = await store(sessions, event(id="big", recipients={"watcher": users}))

        async def mid_event() -> bool:
            async with engine.connect() as conn:
                return bool(await conn.scalar(text(MID_EVENT), {"big": big}))

        await eventually(mid_event, timeout_s=30, interval_s=0.005)
        first.send_signal(signal.SIGKILL)
        await first.wait()
    # nothing of the big event was committed: its transaction died with the process
    assert await _statuses(sessions) == [("big", "received"), ("warm", "processed")]
    assert await _count(sessions, Notification) == 2  # the warm event's u-17 and u-3

    async with running(create_app(settings(database_url))):

        async def processed() -> bool:
            return ("big", "processed") in await _statuses(sessions)

        await eventually(processed, timeout_s=60, interval_s=0.2)
    async with sessions() as session:
        made = await session.scalar(
            select(func.count()).select_from(Notification).where(Notification.event_id == big)
        )
        deliveries = await session.scalar(
            select(func.count())
            .select_from(Delivery)
            .join(Notification, Notification.id == Delivery.notification_id)
            .where(Notification.event_id == big)
        )
        attempts = await session.scalar(select(Event.attempts).where(Event.id == big))
    assert (made, deliveries, attempts) == (RECIPIENTS, 2 * RECIPIENTS, 0)
    assert warm
