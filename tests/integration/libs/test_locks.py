"""libs/common/db/locks.py: a named lock one transaction holds until it ends; on SQLite (one
process) always granted. A claim's lock: nothing on PostgreSQL (the claim's SKIP LOCKED
holds the rows), the database's write lock on SQLite."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.locks import lock_for_claim, lock_key, try_transaction_lock
from libs.common.db.models import UserSequence
from libs.common.db.tables import table_of
from tests.databases import KINDS, migrated

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture(params=KINDS)
async def db(
    request: pytest.FixtureRequest, tmp_path: Path, template_database: str
) -> AsyncIterator[Sessions]:
    async with migrated(request.param, tmp_path, template_database) as sessions:
        yield sessions


async def test_postgresql_grants_a_name_to_one_transaction_until_it_ends(
    database_url: str, sessions: Sessions
) -> None:
    async with sessions() as first, first.begin():
        assert await try_transaction_lock(first, "herald.test:a")
        async with sessions() as second, second.begin():
            assert not await try_transaction_lock(second, "herald.test:a")
            assert await try_transaction_lock(second, "herald.test:b")  # another name
    async with sessions() as third, third.begin():
        assert await try_transaction_lock(third, "herald.test:a")  # released at commit


async def test_the_lock_is_granted_to_the_holder_again(db: Sessions) -> None:
    async with db() as session, session.begin():
        assert await try_transaction_lock(session, "herald.test:a")
        assert await try_transaction_lock(session, "herald.test:a")


def test_the_key_is_the_one_earlier_releases_locked() -> None:
    """Replicas of two releases side by side (a rolling update) must lock the same key: the
    value the retention sweeper computed before the lock moved here."""
    assert lock_key("herald.retention:events:acme") == 3651132130281518529
    assert lock_key("herald.retention:events:beta") != lock_key("herald.retention:events:acme")


async def test_a_claim_lock_writes_nothing_and_on_sqlite_takes_the_write_lock(
    db: Sessions, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    seqs = table_of(UserSequence)
    rows = [UserSequence(tenant="t", user_id=u, last_seq=n) for u, n in (("a", 3), ("b", 5))]
    async with db() as session, session.begin():
        session.add_all(rows)
    async with db() as session, session.begin():
        await lock_for_claim(session, seqs, seqs.c.tenant == "t")
        if request.node.callspec.params["db"] == "sqlite":
            other = sqlite3.connect(tmp_path / "herald.db", timeout=0)  # tests/databases.py
            try:  # a second writer cannot start until this transaction ends
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    other.execute("BEGIN IMMEDIATE")
            finally:
                other.close()
        else:  # no row is held: another transaction's claim still gets them all
            async with db() as second, second.begin():
                claim = select(seqs.c.user_id).with_for_update(skip_locked=True)
                assert sorted(await second.scalars(claim)) == ["a", "b"]
    async with db() as session:
        after = (await session.execute(select(seqs.c.user_id, seqs.c.last_seq))).all()
    assert sorted((u, n) for u, n in after) == [("a", 3), ("b", 5)]
