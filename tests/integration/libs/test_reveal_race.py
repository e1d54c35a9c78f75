"""A denial that lands while ``reveal`` runs is final: the reveal must not overwrite it with
``allowed`` (DESIGN §13: no surface shows what the module denies)."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import transaction
from libs.common.db.models import Notification
from libs.common.inbox.access import deny
from libs.common.inbox.inbox_cursor import reveal
from tests.integration.services.processor.support import event, store

HOLD_S = 0.5  # long enough for the reveal to reach the row the denial holds


async def test_a_denial_committed_during_a_reveal_stays_denied(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    event_id = await store(sessions, event())
    async with transaction(sessions) as session:
        note = Notification(
            tenant="default", event_id=event_id, user_id="u-17", reason="direct:assignee",
            source="tenders", type="tender.requirement_added", entity_type="tender",
            entity_id="T-1001", title="t", body="b",
        )  # fmt: skip
        session.add(note)
    async with sessions() as denier, denier.begin():
        await deny(denier, [note.id])  # not committed yet: the row is locked

        async def revealing() -> None:
            async with transaction(sessions) as session:
                await reveal(session, [note.id])

        task = asyncio.create_task(revealing())
        await asyncio.sleep(HOLD_S)
    await asyncio.wait_for(task, 10)
    async with sessions() as session:
        row = (
            await session.execute(
                select(Notification.access, Notification.user_seq).where(
                    Notification.id == note.id
                )
            )
        ).one()
    assert tuple(row) == ("denied", None)
