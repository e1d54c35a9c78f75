"""Several schedulers, and one that dies mid-digest: exactly one digest per window."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import make_engine, make_sessionmaker, transaction
from libs.common.db.models import Digest
from services.sender.digests.build import build_batch, claim_due
from tests.apps import eventually
from tests.integration.services.sender.digest_support import (
    add_schedule,
    add_waiting,
    digests,
    each_in_exactly_one,
    scheduler,
    statuses,
    utc,
)
from tests.integration.services.sender.support import mediator

Sessions = async_sessionmaker[AsyncSession]
START = utc(2026, 11, 26, 6)
RUN = utc(2026, 11, 27, 6)
USERS = 24
ROOT = Path(__file__).resolve().parents[4]


async def fill(sessions: Sessions) -> list[int]:
    ids = []
    for n in range(USERS):
        await add_schedule(sessions, f"u-{n}", window_start=START)
        for k in range(3):
            ids.append(
                await add_waiting(sessions, f"u-{n}", START + timedelta(hours=k), entity_id=f"E{k}")
            )
    return ids


async def test_two_schedulers_racing_build_each_window_once(
    database_url: str, sessions: Sessions
) -> None:
    ids = await fill(sessions)
    engines = [make_engine(database_url) for _ in range(2)]
    try:
        racers = [
            scheduler(make_sessionmaker(e), digest_batch=4, digest_workers=3) for e in engines
        ]
        results = await asyncio.gather(*(r.tick(RUN + timedelta(seconds=1)) for r in racers))
    finally:
        for e in engines:
            await e.dispose()
    assert sum(r.digests for r in results) == USERS
    assert sum(r.failed for r in results) == 0
    built = await digests(sessions)
    assert len({(b.digest.user_id, b.digest.window_end) for b in built}) == USERS
    assert each_in_exactly_one(built, ids)


async def test_a_build_rolled_back_midway_is_redone_once(sessions: Sessions) -> None:
    ids = await fill(sessions)
    now = RUN + timedelta(seconds=1)

    class Crash(Exception):
        pass

    try:
        async with transaction(sessions) as session:
            claimed = await claim_due(session, now, USERS)
            await build_batch(session, claimed, now, mediator())  # flushed, not committed
            # meanwhile another sender finds every claimed schedule locked
            assert (await scheduler(sessions).tick(now)).digests == 0
            raise Crash
    except Crash:
        pass
    assert set(await statuses(sessions, ids)) == {"DIGEST"}  # all rolled back
    assert (await scheduler(sessions).tick(now)).digests == USERS
    assert (await scheduler(sessions).tick(now + timedelta(minutes=1))).digests == 0
    assert each_in_exactly_one(await digests(sessions), ids)


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from datetime import datetime
    from libs.common.db.engine import make_engine, make_sessionmaker, transaction
    from services.sender.digests.build import build_batch, claim_due
    from tests.integration.services.sender.support import mediator

    async def main() -> None:
        now = datetime.fromisoformat(sys.argv[2])
        sessions = make_sessionmaker(make_engine(sys.argv[1]))
        async with transaction(sessions) as session:
            claimed = await claim_due(session, now, 1000)
            await build_batch(session, claimed, now, mediator())
            print(len(claimed), flush=True)
            await asyncio.sleep(3600)  # killed here, before the commit

    asyncio.run(main())
    """
)


async def test_a_sender_killed_mid_digest_loses_nothing_and_duplicates_nothing(
    database_url: str, sessions: Sessions
) -> None:
    ids = await fill(sessions)
    now = RUN + timedelta(seconds=1)
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        database_url,
        now.isoformat(),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        assert int(await asyncio.wait_for(child.stdout.readline(), 60)) == USERS
        assert (await scheduler(sessions).tick(now)).digests == 0  # all locked by the child
    finally:
        child.send_signal(signal.SIGKILL)
        await child.wait()

    async def rebuilt() -> bool:
        await scheduler(sessions).tick(now)
        async with sessions() as s:
            return await s.scalar(select(func.count()).select_from(Digest)) == USERS

    await eventually(rebuilt, timeout_s=30)
    assert each_in_exactly_one(await digests(sessions), ids)


async def test_the_unique_window_is_the_last_line(sessions: Sessions) -> None:
    """Even if a digest for this window somehow exists already, no second one is made and
    the items are kept for the next digest."""
    await add_schedule(sessions, "u-1", window_start=START)
    item = await add_waiting(sessions, "u-1", START + timedelta(hours=1))
    async with sessions() as s, s.begin():
        s.add(
            Digest(
                tenant="default",
                user_id="u-1",
                channel="email",
                window_start=START,
                window_end=RUN,
                item_count=0,
            )
        )
    result = await scheduler(sessions).tick(RUN)
    assert (result.digests, result.failed) == (0, 1)
    async with sessions() as s:
        windows = list(await s.scalars(select(Digest.window_end).where(Digest.user_id == "u-1")))
    assert windows == [RUN]
    assert await statuses(sessions, [item]) == ["DIGEST"]
