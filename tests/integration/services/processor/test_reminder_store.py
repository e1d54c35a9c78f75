"""services/processor/reminder_store.py: the scheduled reminders of a batch's entities and the
claim of due ones read the same on PostgreSQL (prepared statements, SKIP LOCKED) and SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import transaction
from libs.common.db.models import Reminder
from services.processor.reminder_store import CANCELLED, SCHEDULED, SENT, reminder_store
from tests.databases import KINDS, migrated
from tests.integration.services.processor.support import add

Sessions = async_sessionmaker[AsyncSession]
NOW = datetime(2026, 11, 28, 6, tzinfo=UTC)


@pytest.fixture(params=KINDS)
async def db(
    request: pytest.FixtureRequest, tmp_path: Path, template_database: str
) -> AsyncIterator[Sessions]:
    async with migrated(request.param, tmp_path, template_database) as sessions:
        yield sessions


def reminder(sub: int, entity: str, status: str, fire_in_h: int) -> Reminder:
    return Reminder(
        tenant="acme", subscription_id=sub, user_id=f"u-{sub}", source="tenders",
        entity_type="tender", entity_id=entity, project_id=None, due="2026-12-05",
        fire_at=NOW + timedelta(hours=fire_in_h), status=status, event_id=f"e-{sub}-{entity}",
        event_time=NOW - timedelta(days=1),
    )  # fmt: skip


async def test_the_scheduled_reminders_of_each_entity(db: Sessions) -> None:
    await add(
        db,
        reminder(1, "T-1", SCHEDULED, 1),
        reminder(2, "T-1", SCHEDULED, 2),
        reminder(3, "T-1", SENT, -1),
        reminder(1, "T-2", CANCELLED, 1),
        reminder(4, "T-3", SCHEDULED, 1),
    )
    keys = [("acme", "tenders", "tender", e) for e in ("T-1", "T-2", "T-9")]
    async with transaction(db) as session:
        found = await reminder_store(session).scheduled(session, keys)
    assert {k[3]: set(v) for k, v in found.items()} == {"T-1": {1, 2}, "T-2": set(), "T-9": set()}
    assert all(isinstance(rid, int) for v in found.values() for rid in v.values())


async def test_claiming_takes_the_due_scheduled_ones_up_to_the_limit(db: Sessions) -> None:
    await add(
        db,
        reminder(1, "T-1", SCHEDULED, -3),
        reminder(2, "T-1", SCHEDULED, -2),
        reminder(3, "T-2", SCHEDULED, -1),
        reminder(4, "T-2", SENT, -5),
        reminder(5, "T-3", SCHEDULED, 1),  # not due yet
    )
    async with transaction(db) as session:
        due = await reminder_store(session).claim_due(session, NOW, 10)
    assert sorted(d.subscription_id for d in due) == [1, 2, 3]
    assert {(d.entity_id, d.due, d.event_id) for d in due if d.subscription_id == 1} == {
        ("T-1", "2026-12-05", "e-1-T-1")
    }
    async with transaction(db) as session:
        assert len(await reminder_store(session).claim_due(session, NOW, 2)) == 2
