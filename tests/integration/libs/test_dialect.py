"""libs/common/db/dialect.py: the same upsert on PostgreSQL and on the embedded SQLite, and the
choice of a feature's implementation by the session's database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.dialect import for_dialect, upsert
from libs.common.db.engine import transaction
from libs.common.db.models import Recipient, UserSequence
from libs.common.recipients.directory import RecipientFields, upsert_recipient
from tests.databases import KINDS, migrated


@pytest.fixture(params=KINDS)
async def db(
    request: pytest.FixtureRequest, tmp_path: Path, template_database: str
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with migrated(request.param, tmp_path, template_database) as sessions:
        yield sessions


async def test_for_dialect_picks_postgresql_or_the_portable_one(
    db: async_sessionmaker[AsyncSession], request: pytest.FixtureRequest
) -> None:
    async with db() as session:
        picked = for_dialect(session, postgresql="set-based", portable="executemany")
    on = request.node.callspec.params["db"]
    assert picked == {"postgresql": "set-based", "sqlite": "executemany"}[on]


async def test_upsert_inserts_then_updates_on_conflict(
    db: async_sessionmaker[AsyncSession],
) -> None:
    for last in (3, 7):
        async with transaction(db) as session:
            stmt = upsert(session, UserSequence).values(tenant="acme", user_id="u", last_seq=last)
            await session.execute(
                stmt.on_conflict_do_update(
                    index_elements=["tenant", "user_id"],
                    set_={"last_seq": stmt.excluded.last_seq},
                )
            )
    async with transaction(db) as session:
        await session.execute(
            upsert(session, UserSequence)
            .values(tenant="acme", user_id="u", last_seq=99)
            .on_conflict_do_nothing()
        )
    async with db() as session:
        rows = (await session.execute(select(UserSequence.user_id, UserSequence.last_seq))).all()
    assert [tuple(r) for r in rows] == [("u", 7)]


async def test_a_directory_update_keeps_the_fields_not_sent(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with transaction(db) as session:
        await upsert_recipient(
            session, "acme", "ann", RecipientFields(email="ann@example.com", locale="en")
        )
    async with transaction(db) as session:
        await upsert_recipient(session, "acme", "ann", RecipientFields(timezone="Europe/Berlin"))
    async with db() as session:
        ann = await session.scalar(select(Recipient).where(Recipient.user_id == "ann"))
    assert ann is not None
    assert (ann.email, ann.locale, ann.timezone) == ("ann@example.com", "en", "Europe/Berlin")
