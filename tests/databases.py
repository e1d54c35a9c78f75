"""A migrated database of each kind Herald runs on, for tests of code that has a PostgreSQL
and a portable (SQLite) implementation: a per-test copy of the PostgreSQL template, or a new
SQLite file. A test module turns it into a fixture parametrised over ``KINDS``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import make_engine, make_sessionmaker
from libs.common.db.migrate import upgrade_async
from tests.infra import (
    TEST_DATABASE_URL,
    create_database,
    drop_database,
    unique_name,
    with_database,
)

KINDS = ["postgresql", "sqlite"]


@asynccontextmanager
async def migrated(
    kind: str, tmp_path: Path, template_database: str
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    name = None
    if kind == "postgresql":
        name = unique_name("herald_t")
        await create_database(name, template=template_database)
        url = with_database(TEST_DATABASE_URL, name)
    else:
        url = f"sqlite+aiosqlite:///{tmp_path / 'herald.db'}"
        await upgrade_async(url)
    engine = make_engine(url)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()
        if name is not None:
            await drop_database(name)
