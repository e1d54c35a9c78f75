"""Fixtures of the deployment tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.infra import (
    TEST_DATABASE_URL,
    create_database,
    drop_database,
    unique_name,
    with_database,
)


@pytest.fixture
async def empty_database() -> AsyncIterator[str]:
    """A database as a fresh deployment's PostgreSQL has it: empty, never migrated."""
    name = unique_name("herald_empty")
    await create_database(name)
    try:
        yield with_database(TEST_DATABASE_URL, name)
    finally:
        await drop_database(name)
