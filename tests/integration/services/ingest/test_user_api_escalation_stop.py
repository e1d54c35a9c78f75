"""Reading or archiving a critical notification ends its escalation chain at once (DESIGN §6):
the inbox's state change stops the planned steps in its own transaction, marking it unread
again does not restart them, and steps already taken keep what they became."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import make_engine, make_sessionmaker, transaction
from libs.common.db.migrate import upgrade_async
from libs.common.db.models import Escalation, utcnow
from libs.common.delivery.escalation import stop_chains
from tests.integration.services.ingest.user_api_data import add_notifications, auth, user_api

ALICE = auth("alice")
CHAIN = (("email", 10, "sent"), ("telegram", 30, "planned"), ("sms", 60, "planned"))


@pytest.fixture(params=["postgresql", "sqlite"])
async def database(
    request: pytest.FixtureRequest, tmp_path: Path, database_url: str
) -> AsyncIterator[tuple[str, async_sessionmaker[AsyncSession]]]:
    """PostgreSQL and the embedded SQLite: read-all's RETURNING runs on both."""
    url = database_url
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'herald.db'}"
        await upgrade_async(url)
    engine = make_engine(url)
    try:
        yield url, make_sessionmaker(engine)
    finally:
        await engine.dispose()


async def _plan(sessions: async_sessionmaker[AsyncSession], note_ids: list[int]) -> None:
    now = utcnow()
    async with transaction(sessions) as session:
        for note_id in note_ids:
            for step, (channel, minutes, status) in enumerate(CHAIN, start=1):
                session.add(
                    Escalation(
                        tenant="default", notification_id=note_id, step=step, channel=channel,
                        after_minutes=minutes, fire_at=now + timedelta(minutes=minutes),
                        status=status, reason="", delivery_id=None,
                    )
                )  # fmt: skip


async def _steps(sessions: async_sessionmaker[AsyncSession], note_id: int) -> list[tuple[str, str]]:
    async with sessions() as session:
        rows = await session.execute(
            select(Escalation.status, Escalation.reason)
            .where(Escalation.notification_id == note_id)
            .order_by(Escalation.step)
        )
        return [(status, reason) for status, reason in rows]


async def test_read_archive_and_read_all_stop_the_planned_steps(
    database: tuple[str, async_sessionmaker[AsyncSession]],
) -> None:
    database_url, sessions = database
    read, archived, untouched, *rest = await add_notifications(sessions, "alice", 5)
    bob_note = (await add_notifications(sessions, "bob", 1))[0]
    await _plan(sessions, [read, archived, untouched, *rest, bob_note])
    async with user_api(database_url) as http:
        assert (await http.post(f"/v1/inbox/{read}/read", headers=ALICE)).status_code == 200
        assert (await http.post(f"/v1/inbox/{read}/unread", headers=ALICE)).status_code == 200
        assert (await http.post(f"/v1/inbox/{archived}/archive", headers=ALICE)).status_code == 200
        assert await _steps(sessions, untouched) == [("sent", ""), ("planned", ""), ("planned", "")]
        everything = await http.post(
            "/v1/inbox/read-all", json={"up_to_id": max(rest)}, headers=ALICE
        )
        assert everything.status_code == 200
    stopped_read = ("stopped", "stopped: read by the user")
    assert await _steps(sessions, read) == [("sent", ""), stopped_read, stopped_read]
    stopped_archived = ("stopped", "stopped: archived by the user")
    assert await _steps(sessions, archived) == [("sent", ""), stopped_archived, stopped_archived]
    by_read_all = ("stopped", "stopped: read by the user (read all)")
    for note_id in (untouched, *rest):
        assert await _steps(sessions, note_id) == [("sent", ""), by_read_all, by_read_all]
    # another person's notification is not theirs to stop
    assert await _steps(sessions, bob_note) == [("sent", ""), ("planned", ""), ("planned", "")]


async def test_read_all_of_more_items_than_a_statement_takes_parameters(
    database: tuple[str, async_sessionmaker[AsyncSession]],
) -> None:
    """Read-all may cover tens of thousands of items; a statement takes at most 32,767
    parameters on PostgreSQL (32,766 on SQLite), so the chains are stopped in chunks."""
    _, sessions = database
    [note_id] = await add_notifications(sessions, "alice", 1)
    await _plan(sessions, [note_id])
    many = [*range(10_000_000, 10_040_000), note_id]  # 40,001 ids, one of them real
    async with transaction(sessions) as session:
        await stop_chains(session, many, "stopped: read by the user (read all)")
    by_read_all = ("stopped", "stopped: read by the user (read all)")
    assert await _steps(sessions, note_id) == [("sent", ""), by_read_all, by_read_all]
