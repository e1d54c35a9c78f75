"""Schedule changes 1 minute before, during and 1 minute after a run: every collected item
ends in exactly one digest, and the next run follows the rules in docs/digests.md."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import time_machine
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from libs.common.db.engine import transaction
from services.ingest.app import create_app
from services.sender.digests.build import build_batch, claim_due
from tests.apps import eventually, ingest_settings, running, user_token
from tests.integration.services.sender.digest_support import (
    add_waiting,
    digests,
    each_in_exactly_one,
    schedule_of,
    scheduler,
    utc,
)
from tests.integration.services.sender.support import mediator

Sessions = async_sessionmaker[AsyncSession]
DAY0 = utc(2026, 11, 25, 7)  # 10:00 in Moscow
RUN = utc(2026, 11, 26, 6)  # the next 09:00 in Moscow


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ingest_settings(database_url, "memory://digest-changes"), consume=False)
    async with running(app) as client:
        yield client


async def put(api: httpx.AsyncClient, at: datetime, **body: Any) -> dict[str, Any]:
    with time_machine.travel(at, tick=False):
        token = user_token("u-1")
        resp = await api.put(
            "/v1/digest/email", json=body, headers={"Authorization": f"Bearer {token}"}
        )
    assert resp.status_code == 200, resp.text
    result: dict[str, Any] = resp.json()
    return result


async def test_change_one_minute_before_a_run(api: httpx.AsyncClient, sessions: Sessions) -> None:
    await put(api, DAY0, time="09:00", timezone="Europe/Moscow")
    ids = [await add_waiting(sessions, "u-1", DAY0 + timedelta(hours=2))]
    moved = await put(api, RUN - timedelta(minutes=1), time="10:00", timezone="Europe/Moscow")
    assert moved["next_run_at"] == "2026-11-26T07:00:00Z"
    ids.append(await add_waiting(sessions, "u-1", RUN - timedelta(seconds=30)))
    ids.append(await add_waiting(sessions, "u-1", RUN + timedelta(minutes=30)))

    assert (await scheduler(sessions).tick(RUN + timedelta(seconds=30))).digests == 0
    await scheduler(sessions).tick(RUN + timedelta(hours=1, seconds=30))
    [built] = await digests(sessions)
    assert built.digest.window_end == RUN + timedelta(hours=1)
    assert each_in_exactly_one([built], ids)


async def test_change_one_minute_after_a_run(api: httpx.AsyncClient, sessions: Sessions) -> None:
    await put(api, DAY0, time="09:00", timezone="Europe/Moscow")
    ids = [await add_waiting(sessions, "u-1", DAY0 + timedelta(hours=2))]
    await scheduler(sessions).tick(RUN + timedelta(seconds=10))
    ids.append(await add_waiting(sessions, "u-1", RUN + timedelta(seconds=20)))
    moved = await put(api, RUN + timedelta(minutes=1), time="09:30", timezone="Europe/Moscow")
    # the window continues from the run just made; the next run follows the new time today
    assert moved["collecting_since"] == "2026-11-26T06:00:00Z"
    assert moved["next_run_at"] == "2026-11-26T06:30:00Z"
    ids.append(await add_waiting(sessions, "u-1", RUN + timedelta(minutes=10)))
    await scheduler(sessions).tick(RUN + timedelta(minutes=30, seconds=5))
    first, second = await digests(sessions)
    assert (first.digest.window_end, second.digest.window_end) == (
        RUN,
        RUN + timedelta(minutes=30),
    )
    assert (len(first.item_ids), len(second.item_ids)) == (1, 2)
    assert each_in_exactly_one([first, second], ids)


async def test_change_after_the_time_but_before_the_build(
    api: httpx.AsyncClient, sessions: Sessions
) -> None:
    """The due run is kept (built on the old terms); the run after it follows the new ones."""
    await put(api, DAY0, time="09:00", timezone="Europe/Moscow")
    ids = [await add_waiting(sessions, "u-1", DAY0 + timedelta(hours=2))]
    kept = await put(api, RUN + timedelta(minutes=1), time="21:00", timezone="Europe/Moscow")
    assert kept["next_run_at"] == "2026-11-26T06:00:00Z"
    ids.append(await add_waiting(sessions, "u-1", RUN + timedelta(seconds=30)))
    await scheduler(sessions).tick(RUN + timedelta(minutes=2))
    assert (await schedule_of(sessions, "u-1")).next_run_at == utc(2026, 11, 26, 18)
    await scheduler(sessions).tick(utc(2026, 11, 26, 18, 0, 5))
    first, second = await digests(sessions)
    assert [len(first.item_ids), len(second.item_ids)] == [1, 1]
    assert each_in_exactly_one([first, second], ids)


async def lock_waiters(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        n = await conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
    return int(n or 0)


async def test_change_during_a_run_waits_for_it(
    api: httpx.AsyncClient, sessions: Sessions, engine: AsyncEngine
) -> None:
    await put(api, DAY0, time="09:00", timezone="Europe/Moscow")
    ids = [await add_waiting(sessions, "u-1", DAY0 + timedelta(hours=2))]
    now = RUN + timedelta(seconds=5)
    async with transaction(sessions) as session:  # a scheduler in the middle of the build
        [claimed] = await claim_due(session, now, 10)
        await build_batch(session, [claimed], now, mediator())
        change = asyncio.create_task(put(api, now, time="12:00", timezone="Europe/Moscow"))

        async def blocked() -> bool:
            return await lock_waiters(engine) == 1

        await eventually(blocked)
        assert not change.done()
    changed = await change  # applied to the advanced schedule, after the build's commit
    assert changed["collecting_since"] == "2026-11-26T06:00:00Z"
    assert changed["next_run_at"] == "2026-11-26T09:00:00Z"
    ids.append(await add_waiting(sessions, "u-1", RUN + timedelta(hours=1)))
    await scheduler(sessions).tick(utc(2026, 11, 26, 9, 0, 1))
    built = await digests(sessions)
    assert [b.digest.window_end for b in built] == [RUN, utc(2026, 11, 26, 9)]
    assert each_in_exactly_one(built, ids)
