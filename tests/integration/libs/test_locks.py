"""libs/common/db/locks.py: a named lock one transaction holds until it ends; on SQLite (one
process) always granted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.locks import lock_key, try_transaction_lock
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
