"""Migration 0006: browser digests stored before issue 17 are undone — preferences become
instant, schedules go, waiting deliveries are released — on PostgreSQL and SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from libs.common.db.engine import make_engine
from libs.common.db.migrate import alembic_config, upgrade_async
from tests.infra import (
    TEST_DATABASE_URL,
    create_database,
    drop_database,
    unique_name,
    with_database,
)

REVISION = "0006"

ROWS = """
INSERT INTO channel_preferences (tenant, user_id, source, channel, mode) VALUES
  ('default', 'u-1', '*', 'browser', 'digest'),
  ('default', 'u-1', 'tenders', 'browser', 'off'),
  ('default', 'u-1', 'tenders', 'email', 'digest');
INSERT INTO digest_schedules (tenant, user_id, channel, days_of_week, time_of_day, timezone,
                              enabled, window_start, next_run_at, updated_at) VALUES
  ('default', 'u-1', 'browser', '[0]', '09:00', 'UTC', true, '2026-11-26', NULL, '2026-11-26'),
  ('default', 'u-1', 'email', '[0]', '09:00', 'UTC', true, '2026-11-26', NULL, '2026-11-26');
INSERT INTO deliveries (tenant, user_id, source, channel, status, reason, subject, body, attempts,
                        created_at) VALUES
  ('default', 'u-1', 'tenders', 'browser', 'DIGEST', 'direct:assignee', 's', 'b', 0, '2026-11-26'),
  ('default', 'u-1', 'tenders', 'email', 'DIGEST', 'direct:assignee', 's', 'b', 0, '2026-11-26'),
  ('default', 'u-1', 'tenders', 'browser', 'SENT', 'direct:assignee', 's', 'b', 1, '2026-11-26')
"""


def before(revision: str) -> str:
    found = ScriptDirectory.from_config(alembic_config("unused")).get_revision(revision)
    assert found is not None and isinstance(found.down_revision, str)
    return found.down_revision


@pytest.fixture(params=["postgresql", "sqlite"])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'herald.db'}"
        return
    name = unique_name("herald_mig")
    await create_database(name)
    yield with_database(TEST_DATABASE_URL, name)
    await drop_database(name)


async def _seed(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        for statement in ROWS.split(";"):
            await conn.execute(text(statement))


async def test_browser_digests_are_undone(empty_database: str) -> None:
    await upgrade_async(empty_database, before(REVISION))
    engine = make_engine(empty_database)
    try:
        await _seed(engine)
        await upgrade_async(empty_database, REVISION)
        async with engine.connect() as conn:
            prefs = (
                await conn.execute(text("SELECT source, channel, mode FROM channel_preferences"))
            ).all()
            kept = (
                (await conn.execute(text("SELECT channel FROM digest_schedules"))).scalars().all()
            )
            found = await conn.execute(
                text("SELECT channel, status, reason, next_attempt_at FROM deliveries ORDER BY id")
            )
            deliveries = found.all()
    finally:
        await engine.dispose()
    assert sorted(tuple(p) for p in prefs) == [
        ("*", "browser", "instant"),
        ("tenders", "browser", "off"),
        ("tenders", "email", "digest"),
    ]
    assert kept == ["email"]
    released, email, sent = deliveries
    assert released[:3] == (
        "browser", "PENDING", "the browser has no digest, sent instantly; direct:assignee"
    )  # fmt: skip
    assert released[3] is not None  # due now: the sender's next claim takes it
    assert email[:2] == ("email", "DIGEST") and sent[:2] == ("browser", "SENT")
