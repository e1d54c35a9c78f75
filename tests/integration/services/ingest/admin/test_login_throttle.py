"""The admin login throttle's schedule on both databases Herald runs on, with a clock the test
moves (the security suite drives it through the real login: tests/*/security)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from libs.common.db.engine import make_engine, make_sessionmaker
from libs.common.db.migrate import upgrade_async
from libs.common.db.models import AdminLoginThrottle
from services.ingest.admin.throttle import (
    ACCOUNT,
    ADDRESS,
    FORGET_AFTER_S,
    LoginThrottle,
    address_key,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["postgresql", "sqlite"])
async def throttle(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[LoginThrottle, Clock]]:
    url = database_url
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'dev.db'}"
        await upgrade_async(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    clock = Clock()
    try:
        yield LoginThrottle(lambda: sessions, clock), clock
    finally:
        await engine.dispose()


def test_the_rules_grow_exponentially_to_their_caps() -> None:
    assert [ADDRESS.delay_s(n) for n in range(1, 8)] == [0, 0, 0, 0, 1, 2, 4]
    assert ADDRESS.delay_s(100) == ADDRESS.cap_s == 300
    assert [ACCOUNT.delay_s(n) for n in (9, 10, 11)] == [0, 1, 2]
    assert ACCOUNT.delay_s(100) == ACCOUNT.cap_s == 60


def test_address_keys_group_an_ipv6_host_by_its_64() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::9")
    assert address_key("2001:db8:1:2::1") == "address:2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:203.0.113.7") == address_key("203.0.113.7") == "address:203.0.113.7"
    assert address_key(None) == "address:?" and address_key("testclient") == "address:testclient"


async def test_blocked_attempts_are_not_counted_and_blocks_expire(
    throttle: tuple[LoginThrottle, Clock],
) -> None:
    limiter, clock = throttle
    assert [await limiter.admit("ops", "203.0.113.7") for _ in range(5)] == [0] * 5
    assert await limiter.admit("ops", "203.0.113.7") == 1  # 5th counted: blocked 1 s
    for _ in range(50):  # hammering does not extend the block
        assert await limiter.admit("ops", "203.0.113.7") == 1
    clock.now += 1
    assert await limiter.admit("ops", "203.0.113.7") == 0  # 6th: blocked 2 s
    clock.now += 1.5
    assert await limiter.admit("ops", "203.0.113.7") == 1  # 0.5 s left, rounded up
    # the account saw 6 attempts: another desk goes straight in
    assert await limiter.admit("ops", "198.51.100.2") == 0


async def test_success_clears_its_keys_and_quiet_keys_are_forgotten(
    throttle: tuple[LoginThrottle, Clock],
) -> None:
    limiter, clock = throttle
    for _ in range(5):
        assert await limiter.admit("ops", "198.51.100.2") == 0
    assert await limiter.admit("ops", "198.51.100.2") > 0
    await limiter.succeeded("ops", "198.51.100.2")
    assert [await limiter.admit("ops", "198.51.100.2") for _ in range(5)] == [0] * 5
    clock.now += FORGET_AFTER_S + 1  # 15 quiet minutes: start over, and the old rows go
    assert await limiter.admit("root", "192.0.2.1") == 0
    assert [await limiter.admit("ops", "198.51.100.2") for _ in range(4)] == [0] * 4
    async with limiter._sessions()() as session:
        rows = await session.scalar(select(func.count()).select_from(AdminLoginThrottle))
    assert rows == 4  # ops and root, each with an address; nothing stale left behind
