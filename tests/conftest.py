"""Fixtures: every test gets its own PostgreSQL database and, when it asks, its own vhost
(made a batch at a time: tests/vhosts.py)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from libs.common.catalog.defaults import seed_defaults
from libs.common.db.engine import make_engine, make_sessionmaker, transaction
from libs.common.db.migrate import upgrade
from libs.common.tenancy.tenant_store import ensure_tenants
from tests.infra import (
    TEST_AMQP_URL,
    TEST_DATABASE_URL,
    create_database,
    drop_database,
    unique_name,
    with_database,
)
from tests.vhosts import VhostPool

# The tenants tests use besides "default" (which the migration registers): an event or token
# of a tenant not registered is refused (DESIGN §15). Tests of that refusal use other names.
TEST_TENANTS = ("acme", "beta", "other", "t2")


def _in_thread(fn: Callable[[], T]) -> T:
    """Session fixtures may be set up while a test's loop runs: use a loop of their own."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn).result()


T = TypeVar("T")


@pytest.fixture(scope="session")
def template_database() -> Iterator[str]:
    """Migrated and seeded once; each test copies it (CREATE DATABASE … TEMPLATE)."""
    name = unique_name(f"herald_tmpl_{os.getpid()}")
    url = with_database(TEST_DATABASE_URL, name)

    async def seed() -> None:
        engine = make_engine(url)
        async with transaction(make_sessionmaker(engine)) as session:
            await seed_defaults(session)
            await ensure_tenants(session, TEST_TENANTS)
        await engine.dispose()

    def build() -> None:
        asyncio.run(create_database(name))
        upgrade(url)
        asyncio.run(seed())

    _in_thread(build)
    yield name
    _in_thread(lambda: asyncio.run(drop_database(name)))


@pytest.fixture
async def database_url(template_database: str) -> AsyncIterator[str]:
    name = unique_name("herald_t")
    await create_database(name, template=template_database)
    yield with_database(TEST_DATABASE_URL, name)
    await drop_database(name)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(database_url)
    yield eng
    await eng.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)


@pytest.fixture(scope="session")
def vhosts() -> Iterator[VhostPool]:
    """Fresh vhosts for the session's tests, made and deleted a batch at a time."""
    pool = VhostPool(TEST_AMQP_URL, unique_name(f"herald_t{os.getpid()}"))
    yield pool
    pool.close()


@pytest.fixture
async def amqp_url(vhosts: VhostPool) -> AsyncIterator[str]:
    """A vhost no other test used, deleted after the test (with the next batch)."""
    url = await asyncio.to_thread(vhosts.take)
    yield url
    await asyncio.to_thread(vhosts.give_back, url)
