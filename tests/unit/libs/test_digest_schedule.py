"""Digest schedule math: daily and weekly runs across DST changes, gaps, folds, catch-up."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from libs.common.delivery.digest_schedule import (
    ALL_DAYS,
    DigestDefaults,
    ScheduleError,
    latest_due_run,
    next_run_after,
    validate,
)

MON, SUN = 0, 6


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, sec, tzinfo=UTC)


def runs(start: datetime, n: int, days: list[int], at: str, zone: str) -> list[datetime]:
    out, t = [], start
    for _ in range(n):
        nxt = next_run_after(t, days, at, zone)
        assert nxt is not None
        out.append(nxt)
        t = nxt
    return out


@pytest.mark.parametrize(
    ("zone", "start", "expected_utc_hours"),
    [
        # Berlin springs forward on Sunday 2026-03-29: 09:00 is 08:00Z on the 28th, 07:00Z after
        ("Europe/Berlin", utc(2026, 3, 27, 12), [8, 7, 7, 7]),
        # ... and falls back on 2026-10-25: 07:00Z on the 24th, 08:00Z from the 25th
        ("Europe/Berlin", utc(2026, 10, 23, 12), [7, 8, 8, 8]),
        # New York: 2026-03-08 (14:00Z → 13:00Z) and 2026-11-01 (13:00Z → 14:00Z)
        ("America/New_York", utc(2026, 3, 6, 18), [14, 13, 13, 13]),
        ("America/New_York", utc(2026, 10, 30, 18), [13, 14, 14, 14]),
        # Moscow has had no DST since 2014: 06:00Z the whole year, also on those weekends
        ("Europe/Moscow", utc(2026, 3, 27, 12), [6, 6, 6, 6]),
        ("Europe/Moscow", utc(2026, 10, 23, 12), [6, 6, 6, 6]),
    ],
)
def test_daily_across_dst_keeps_local_time(
    zone: str, start: datetime, expected_utc_hours: list[int]
) -> None:
    got = runs(start, 4, list(ALL_DAYS), "09:00", zone)
    assert [r.hour for r in got] == expected_utc_hours
    assert all(r.astimezone(ZoneInfo(zone)).strftime("%H:%M") == "09:00" for r in got)
    dates = [r.astimezone(ZoneInfo(zone)).date() for r in got]
    assert [(b - a).days for a, b in itertools.pairwise(dates)] == [1, 1, 1]


@pytest.mark.parametrize(
    ("zone", "start", "first", "second"),
    [
        ("Europe/Berlin", utc(2026, 3, 23), utc(2026, 3, 29, 7), utc(2026, 4, 5, 7)),
        ("Europe/Berlin", utc(2026, 10, 19), utc(2026, 10, 25, 8), utc(2026, 11, 1, 8)),
        ("America/New_York", utc(2026, 3, 2), utc(2026, 3, 8, 13), utc(2026, 3, 15, 13)),
        ("America/New_York", utc(2026, 10, 26), utc(2026, 11, 1, 14), utc(2026, 11, 8, 14)),
        ("Europe/Moscow", utc(2026, 3, 23), utc(2026, 3, 29, 6), utc(2026, 4, 5, 6)),
    ],
)
def test_weekly_sunday_across_dst(
    zone: str, start: datetime, first: datetime, second: datetime
) -> None:
    # the DST Sunday itself: Berlin switches at 02:00/03:00, New York at 02:00 — before 09:00
    assert runs(start, 2, [SUN], "09:00", zone) == [first, second]


def test_weekly_interval_is_one_local_week_not_168_hours() -> None:
    a, b = runs(utc(2026, 3, 23), 2, [MON], "09:00", "Europe/Berlin")
    assert b - a == timedelta(days=7) - timedelta(hours=1)  # the week holding the change


def test_nonexistent_local_time_runs_shifted_forward_once() -> None:
    # 02:30 does not exist on 2026-03-29 in Berlin: it runs at 03:30 CEST (01:30Z), once
    got = runs(utc(2026, 3, 28, 12), 2, list(ALL_DAYS), "02:30", "Europe/Berlin")
    assert got == [utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30)]
    got = runs(utc(2026, 3, 7, 12), 2, list(ALL_DAYS), "02:30", "America/New_York")
    assert got == [utc(2026, 3, 8, 7, 30), utc(2026, 3, 9, 6, 30)]


def test_repeated_local_time_runs_once_at_first_occurrence() -> None:
    # 01:30 happens twice in New York on 2026-11-01 (EDT, then EST): one run, the first
    got = runs(utc(2026, 10, 31, 12), 3, list(ALL_DAYS), "01:30", "America/New_York")
    assert got == [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30), utc(2026, 11, 3, 6, 30)]
    got = runs(utc(2026, 10, 24, 12), 2, list(ALL_DAYS), "02:30", "Europe/Berlin")
    assert got == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


def test_strictly_after_and_same_day() -> None:
    run = utc(2026, 11, 27, 6)  # 09:00 Moscow
    assert next_run_after(run - timedelta(seconds=1), [4], "09:00", "Europe/Moscow") == run
    assert next_run_after(run, [4], "09:00", "Europe/Moscow") == run + timedelta(days=7)


def test_a_year_of_runs_is_one_per_wanted_day() -> None:
    for zone in ("Europe/Berlin", "America/New_York", "Europe/Moscow"):
        got = runs(utc(2026, 1, 1), 3 * 52, [0, 2, 4], "23:30", zone)
        local = [r.astimezone(ZoneInfo(zone)) for r in got]
        assert all(d.weekday() in (0, 2, 4) and d.strftime("%H:%M") == "23:30" for d in local)
        assert len({d.date() for d in local}) == len(local)  # no day twice, none skipped
        assert (local[-1].date() - local[0].date()).days < 52 * 7


def test_latest_due_run_coalesces_missed_runs() -> None:
    first = utc(2026, 11, 24, 6)  # 09:00 Moscow, then the sender was down three days
    now = utc(2026, 11, 27, 7)
    assert latest_due_run(first, now, list(ALL_DAYS), "09:00", "Europe/Moscow") == utc(
        2026, 11, 27, 6
    )
    assert latest_due_run(first, first, list(ALL_DAYS), "09:00", "Europe/Moscow") == first


def test_no_days_means_no_run() -> None:
    assert next_run_after(utc(2026, 1, 1), [], "09:00", "UTC") is None


@pytest.mark.parametrize(
    ("days", "at", "zone", "complaint"),
    [
        ([7], "09:00", "UTC", "days must be 0"),
        ([-1], "09:00", "UTC", "days must be 0"),
        ([0], "24:00", "UTC", "HH:MM"),
        ([0], "9:00", "UTC", "HH:MM"),
        ([0], "09:00", "Mars/Olympus", "unknown time zone"),
        ([0], "09:00", "../etc/passwd", "unknown time zone"),
    ],
)
def test_validation_names_the_problem(days: list[int], at: str, zone: str, complaint: str) -> None:
    with pytest.raises(ScheduleError, match=complaint):
        validate(days, at, zone)


def test_validate_normalizes_days() -> None:
    assert validate([4, 0, 4], "09:00", "UTC") == [0, 4]


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ScheduleError):
        next_run_after(datetime(2026, 1, 1), [0], "09:00", "UTC")


def test_defaults_are_validated() -> None:
    assert DigestDefaults().digest_default_time == "09:00"
    with pytest.raises(ValueError, match="unknown time zone"):
        DigestDefaults(digest_default_timezone="Nowhere/City")
    with pytest.raises(ValueError, match="at least one day"):
        DigestDefaults(digest_default_days=[])
