"""One transaction per event, really (DESIGN §5): the raw asyncpg fast paths run inside the
session's transaction, never in autocommit before SQLAlchemy has sent its BEGIN."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import transaction
from libs.common.db.models import Event, EventStatus, Notification, utcnow
from libs.common.db.raw import NotInTransaction, driver_connection
from services.processor.claim import claim_events
from services.processor.pipeline import NotificationRow
from services.processor.writer import insert_notifications
from tests.integration.services.processor.support import event, store

REPO = Path(__file__).resolve().parents[4]


class _Boom(Exception):
    pass


def _notification(event_id: str, user_id: str) -> NotificationRow:
    return {
        "tenant": "default", "event_id": event_id, "user_id": user_id, "reason": "direct:x",
        "source": "tenders", "type": "tender.updated", "entity_type": "tender",
        "entity_id": "T-1", "project_id": None, "priority": "normal", "title": "t",
        "body": "b", "created_at": utcnow(),
    }  # fmt: skip


async def test_a_second_claimer_skips_an_event_locked_by_the_first(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    event_id = await store(sessions, event())
    first_holds = asyncio.Event()
    second_done = asyncio.Event()
    seen: dict[str, list[str]] = {}

    async def first() -> None:
        async with transaction(sessions) as session:
            seen["first"] = [row[0] for row in await claim_events(session, [event_id])]
            first_holds.set()
            await second_done.wait()  # keep the transaction (and its row lock) open

    async def second() -> None:
        await first_holds.wait()
        async with transaction(sessions) as session:
            seen["second"] = [row[0] for row in await claim_events(session, [event_id])]
        second_done.set()

    await asyncio.wait_for(asyncio.gather(first(), second()), 10)
    assert seen == {"first": [event_id], "second": []}


async def test_an_error_after_the_first_raw_insert_leaves_no_row(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    event_id = await store(sessions, event())
    with pytest.raises(_Boom):
        async with transaction(sessions) as session:
            await claim_events(session, [event_id])
            await insert_notifications(session, [_notification(event_id, "u-1")])
            raise _Boom
    async with sessions() as session:
        left = await session.scalar(
            select(func.count()).select_from(Notification).where(Notification.event_id == event_id)
        )
        status = await session.scalar(select(Event.status).where(Event.id == event_id))
    assert left == 0
    assert status == EventStatus.RECEIVED.value


async def test_the_driver_connection_refuses_an_autocommit_connection(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session:
        conn = await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        assert conn is not None
        with pytest.raises(NotInTransaction):
            await driver_connection(session)


def test_nothing_else_reaches_for_the_driver_connection() -> None:
    """The one helper that begins the transaction is the only way to the asyncpg connection."""
    allowed = {REPO / "libs/common/db/raw.py"}
    offenders = [
        str(path.relative_to(REPO))
        for top in ("libs", "services", "herald", "bench")
        for path in (REPO / top).rglob("*.py")
        if path not in allowed
        and any(s in path.read_text() for s in ("driver_connection", "get_raw_connection"))
        and "libs.common.db.raw import" not in path.read_text()
    ]
    assert offenders == []
