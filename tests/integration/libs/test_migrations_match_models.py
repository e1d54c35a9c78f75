"""The Alembic history and ``libs/common/db/models.py`` describe the same schema: after every
migration has run, autogenerate finds nothing to add, drop or change (indexes and their
partial WHERE clauses included)."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from libs.common.db.models import Base


def _differences(conn: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))


async def test_the_migrated_database_matches_the_models(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        assert await conn.run_sync(_differences) == []


async def test_the_unread_index_covers_only_visible_items(engine: AsyncEngine) -> None:
    """Autogenerate does not compare a partial index's WHERE: check the one the counters use."""
    async with engine.connect() as conn:
        definition = await conn.exec_driver_sql(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_notifications_unread'"
        )
        [(sql,)] = definition.all()
    assert "access" in sql and "'allowed'" in sql, sql
