"""Which modules are digested changes; digests switched off; users with no schedule yet.
Nothing collected is ever dropped."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import Delivery
from services.ingest.app import create_app
from tests.apps import ingest_settings, running, user_token
from tests.integration.services.sender.digest_support import (
    add_schedule,
    add_user,
    add_waiting,
    digests,
    each_in_exactly_one,
    schedule_of,
    scheduler,
    statuses,
    utc,
)

Sessions = async_sessionmaker[AsyncSession]
START = utc(2026, 11, 26, 6)
RUN = utc(2026, 11, 27, 6)


@pytest.fixture
async def api(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(ingest_settings(database_url, "memory://digest-modules"), consume=False)
    async with running(app) as client:
        yield client


async def put(api: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    with time_machine.travel(START + timedelta(hours=3), tick=False):
        headers = {"Authorization": f"Bearer {user_token('u-1')}"}
        resp = await api.put(path, json=body, headers=headers)
    assert resp.status_code == 200, resp.text
    out: dict[str, Any] = resp.json()
    return out


async def test_module_back_to_instant_waiting_items_still_go_in_the_next_digest(
    api: httpx.AsyncClient, sessions: Sessions
) -> None:
    await add_schedule(sessions, "u-1", window_start=START)
    waiting = [
        await add_waiting(sessions, "u-1", START + timedelta(hours=n), source="tenders")
        for n in range(2)
    ]
    # the user switches tenders e-mail from digest back to instant (the real preferences API)
    await put(
        api,
        "/v1/preferences",
        {"changes": [{"source": "tenders", "channel": "email", "mode": "instant"}]},
    )
    await scheduler(sessions).tick(RUN)
    [built] = await digests(sessions)
    assert each_in_exactly_one([built], waiting)
    assert "tenders (2)" in built.delivery.body


async def test_switching_the_digest_off_sends_a_final_digest_then_instant(
    api: httpx.AsyncClient, sessions: Sessions
) -> None:
    await add_schedule(sessions, "u-1", window_start=START)
    waiting = [await add_waiting(sessions, "u-1", START + timedelta(hours=1))]
    off = await put(api, "/v1/digest/email", {"enabled": False})
    switched_at = START + timedelta(hours=3)
    assert off["next_run_at"] == switched_at.isoformat().replace("+00:00", "Z")
    # the final digest: what was collected, right away
    await scheduler(sessions).tick(switched_at + timedelta(seconds=5))
    [final] = await digests(sessions)
    assert final.digest.window_end == switched_at and each_in_exactly_one([final], waiting)
    assert (await schedule_of(sessions, "u-1")).next_run_at is None
    # an item that still arrives as DIGEST (the module is still "digest") is released
    late = await add_waiting(sessions, "u-1", switched_at + timedelta(minutes=5))
    result = await scheduler(sessions).tick(switched_at + timedelta(minutes=6))
    assert result.released == 1
    async with sessions() as s:
        row = await s.get(Delivery, late)
    assert row is not None and row.status == "PENDING"
    assert row.reason.startswith("digest off, sent instantly; direct:assignee")
    assert len(await digests(sessions)) == 1


async def test_switching_back_on_keeps_the_window(
    api: httpx.AsyncClient, sessions: Sessions
) -> None:
    await add_schedule(sessions, "u-1", window_start=START)
    await put(api, "/v1/digest/email", {"enabled": False, "days": []})
    on = await put(api, "/v1/digest/email", {"enabled": True, "time": "18:00"})
    # switched off before anything was built: the final digest is still due; on again keeps it
    assert on["collecting_since"] == "2026-11-26T06:00:00Z"
    assert on["next_run_at"] == "2026-11-26T09:00:00Z"
    await scheduler(sessions).tick(utc(2026, 11, 26, 9, 0, 1))
    assert (await schedule_of(sessions, "u-1")).next_run_at == utc(2026, 11, 26, 15)


async def test_a_user_without_a_schedule_gets_the_default_one(sessions: Sessions) -> None:
    await add_user(sessions, "u-ny", timezone="America/New_York")
    ids = [await add_waiting(sessions, "u-ny", START + timedelta(hours=1))]
    ids.append(await add_waiting(sessions, "u-ghost", START + timedelta(hours=1)))
    now = START + timedelta(hours=2)
    result = await scheduler(sessions).tick(now)
    assert result.provisioned == 2
    ny = await schedule_of(sessions, "u-ny")
    assert (ny.timezone, ny.time_of_day, ny.days_of_week) == (
        "America/New_York",
        "09:00",
        list(range(7)),
    )
    assert ny.next_run_at == utc(2026, 11, 26, 14)  # 09:00 EST
    ghost = await schedule_of(sessions, "u-ghost")
    assert ghost.timezone == "Europe/Moscow"  # not in the directory: the default zone
    await scheduler(sessions).tick(utc(2026, 11, 27, 14))
    assert each_in_exactly_one(await digests(sessions), ids)


async def test_items_on_other_channels_and_users_are_not_touched(sessions: Sessions) -> None:
    await add_schedule(sessions, "u-1", window_start=START)
    mine = await add_waiting(sessions, "u-1", START + timedelta(hours=1))
    tg = await add_waiting(sessions, "u-1", START + timedelta(hours=1), channel="telegram")
    other = await add_waiting(sessions, "u-2", START + timedelta(hours=1))
    other_tenant = await add_waiting(sessions, "u-1", START + timedelta(hours=1), tenant="t2")
    await scheduler(sessions, digest_housekeeping_interval_s=3600).tick(RUN)
    [built] = await digests(sessions)
    assert built.item_ids == [mine]
    assert await statuses(sessions, [tg, other, other_tenant]) == ["DIGEST"] * 3
    async with sessions() as s:
        assert await s.scalar(select(Delivery.status).where(Delivery.id == mine)) == "DIGESTED"
