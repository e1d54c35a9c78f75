"""Digest schedule math (DESIGN §7): when does a (days, HH:MM, time zone) schedule run next?

Pure functions, no I/O. Local wall-clock times are turned into instants with ``zoneinfo``:

* a time that does not exist on a spring-forward day (02:30 in Berlin on the last Sunday of
  March) runs at the same instant as the pre-transition offset gives it — 03:30 local, the
  way cron and most calendars do it: the day still gets its digest;
* a time that happens twice on a fall-back day (01:30 in New York in November) runs once, at
  the first occurrence (``fold=0``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from libs.common.runtime.settings import HeraldSettings

DAYS_IN_WEEK = 7
ALL_DAYS: tuple[int, ...] = tuple(range(DAYS_IN_WEEK))  # 0 = Monday … 6 = Sunday
DEFAULT_TIME = "09:00"
# A missed run is coalesced into the latest one before "now"; more than this many missed
# runs (≈ 2.7 years of a daily schedule) means the clock or the data is wrong.
MAX_CATCH_UP_RUNS = 1_000

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class ScheduleError(ValueError):
    """A schedule that cannot run: bad days, time or time zone (the message says which)."""


def as_utc(value: datetime) -> datetime:
    """SQLite hands timestamps back naive (they are stored as UTC); PostgreSQL aware."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def parse_time(value: str) -> time:
    match = _HHMM.match(value)
    if match is None:
        raise ScheduleError(f"time must be HH:MM (00:00-23:59), got {value!r}")
    return time(int(match.group(1)), int(match.group(2)))


def parse_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError(f"unknown time zone {name!r} (use an IANA name)") from exc


def normalize_days(days: Sequence[int]) -> list[int]:
    bad = [d for d in days if not isinstance(d, int) or isinstance(d, bool) or not 0 <= d <= 6]
    if bad:
        raise ScheduleError(f"days must be 0 (Monday) to 6 (Sunday), got {bad}")
    return sorted(set(days))


def local_run(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of ``at`` on ``day`` in ``zone`` (gap → shifted forward, fold → first)."""
    wall = datetime.combine(day, at).replace(tzinfo=zone, fold=0)
    return wall.astimezone(UTC)


def next_run_after(
    after: datetime, days: Sequence[int], time_of_day: str, timezone: str
) -> datetime | None:
    """The first scheduled instant strictly after ``after`` (aware); None when no days."""
    if after.tzinfo is None:
        raise ScheduleError("'after' must be timezone-aware")
    wanted = set(normalize_days(days))
    if not wanted:
        return None
    at, zone = parse_time(time_of_day), parse_zone(timezone)
    start = after.astimezone(zone).date() - timedelta(days=1)  # margin: gaps shift runs forward
    for offset in range(DAYS_IN_WEEK + 2):
        day = start + timedelta(days=offset)
        if day.weekday() in wanted:
            run = local_run(day, at, zone)
            if run > after:
                return run
    raise AssertionError("unreachable: a week always holds a wanted day")  # pragma: no cover


def latest_due_run(
    first_due: datetime, now: datetime, days: Sequence[int], time_of_day: str, timezone: str
) -> datetime:
    """Coalesce missed runs: the last scheduled instant ≤ ``now``, starting at ``first_due``.

    A sender that was down for three days builds one digest up to the latest missed run,
    not three digests at once.
    """
    end = first_due
    for _ in range(MAX_CATCH_UP_RUNS):
        following = next_run_after(end, days, time_of_day, timezone)
        if following is None or following > now:
            return end
        end = following
    return end


def validate(days: Sequence[int], time_of_day: str, timezone: str) -> list[int]:
    """Raise ScheduleError naming the bad part; return the normalized days."""
    normalized = normalize_days(days)
    parse_time(time_of_day)
    parse_zone(timezone)
    return normalized


class DigestDefaults(HeraldSettings):
    """The schedule a user gets until they pick one (HERALD_DIGEST_DEFAULT_*); read by the
    user API (what GET shows) and the sender (what it creates for a new digest user)."""

    digest_default_days: list[int] = Field(default=list(ALL_DAYS), description="0 = Monday")
    digest_default_time: str = Field(default=DEFAULT_TIME, description="local HH:MM")
    digest_default_timezone: str = Field(
        default="Europe/Moscow", description="when the directory has no time zone for a user"
    )

    @field_validator("digest_default_days")
    @classmethod
    def _days(cls, value: list[int]) -> list[int]:
        days = validate(value, DEFAULT_TIME, "UTC")  # ScheduleError is a ValueError
        if not days:
            raise ValueError("at least one day")
        return days

    @field_validator("digest_default_time")
    @classmethod
    def _time(cls, value: str) -> str:
        validate([], value, "UTC")
        return value

    @field_validator("digest_default_timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        validate([], DEFAULT_TIME, value)
        return value
