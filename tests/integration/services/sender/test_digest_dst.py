"""Daily and weekly digests built by the scheduler across DST changes in Europe/Moscow,
Europe/Berlin and America/New_York: each run at the chosen local time, none skipped or
doubled, every item in exactly one digest."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.integration.services.sender.digest_support import (
    add_schedule,
    add_waiting_for,
    digests,
    each_in_exactly_one,
    scheduler,
    statuses,
    utc,
)

Sessions = async_sessionmaker[AsyncSession]
TICK = timedelta(hours=3)  # the real loop ticks every 15 s; coarser is enough here
ITEM_EVERY = 2  # ticks
WEEKLY = [0, 3]  # Monday and Thursday
USERS = {
    "berlin-daily": ("Europe/Berlin", None, "09:00"),
    "berlin-weekly": ("Europe/Berlin", WEEKLY, "07:30"),
    "ny-daily": ("America/New_York", None, "08:15"),
    "ny-weekly": ("America/New_York", WEEKLY, "18:00"),
    "moscow-daily": ("Europe/Moscow", None, "09:00"),
    "moscow-weekly": ("Europe/Moscow", WEEKLY, "09:00"),
}


def expected_days(
    zone: str, days: list[int] | None, at: str, start: datetime, end: datetime
) -> list[date]:
    """Local dates whose run time lies in (start, end]."""
    tz, (hh, mm) = ZoneInfo(zone), map(int, at.split(":"))
    d, out = start.astimezone(tz).date(), list[date]()
    while d <= end.astimezone(tz).date():
        run = datetime(d.year, d.month, d.day, hh, mm, tzinfo=tz)
        if (days is None or d.weekday() in days) and start < run <= end:
            out.append(d)
        d += timedelta(days=1)
    return out


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (utc(2026, 3, 5), utc(2026, 3, 11)),  # New York springs forward on 8 March
        (utc(2026, 3, 26), utc(2026, 4, 1)),  # Berlin on 29 March
        (utc(2026, 10, 22), utc(2026, 10, 28)),  # Berlin falls back on 25 October
        (utc(2026, 10, 29), utc(2026, 11, 4)),  # New York on 1 November
    ],
)
async def test_runs_follow_local_time_across_dst(
    sessions: Sessions, start: datetime, end: datetime
) -> None:
    for user, (zone, days, at) in USERS.items():
        await add_schedule(sessions, user, window_start=start, days=days, at=at, zone=zone)
    items: dict[str, list[tuple[int, datetime]]] = {u: [] for u in USERS}
    engine = scheduler(sessions, digest_housekeeping_interval_s=10**7)
    now, n = start, 0
    while now < end:
        now += TICK
        n += 1
        if n % ITEM_EVERY == 0:
            made = now - timedelta(minutes=1)
            ids = await add_waiting_for(sessions, list(USERS), made)
            for user, item in zip(USERS, ids, strict=True):
                items[user].append((item, made))
        await engine.tick(now)
    first_item = start + ITEM_EVERY * TICK - timedelta(minutes=1)
    for user, (zone, days, at) in USERS.items():
        built = await digests(sessions, user)
        local = [b.digest.window_end.astimezone(ZoneInfo(zone)) for b in built]
        assert {t.strftime("%H:%M") for t in local} == {at}, user
        # every run after the first item, once, on the right local days; none before it
        assert [t.date() for t in local] == expected_days(zone, days, at, first_item, now), user
        for a, b in itertools.pairwise(built):
            assert b.digest.window_start == a.digest.window_end, user
        last = built[-1].digest.window_end
        assert each_in_exactly_one(built, [i for i, made in items[user] if made < last]), user
        waiting = [i for i, made in items[user] if made >= last]
        assert await statuses(sessions, waiting) == ["DIGEST"] * len(waiting), user
