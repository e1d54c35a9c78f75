"""How a digest schedule change is applied (docs/digests.md has the whole story); flush only.

* ``window_start`` — where the items being collected started — is never moved by a change;
  only a built digest moves it. Nothing collected is dropped by editing the schedule.
* A run that is already due (its time has come, the scheduler has not built it yet) is kept:
  that digest goes out on the old terms, and the run after it follows the new ones.
* Otherwise the next run is the first instant of the new terms after now.
* Switching the digest off makes one final digest of what was collected, right away; items
  that arrive for a switched-off digest are released and sent instantly.
* The schedule row is locked (``FOR UPDATE``) while it changes, so a change during a build
  waits for that build's commit and then applies to the advanced schedule.
* The browser has no digest: its path answers 422 (``no_digest``).
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import DigestSchedule
from libs.common.delivery.channels import digest_refusal, registry
from libs.common.delivery.digest_schedule import (
    DEFAULT_TIME,
    DigestDefaults,
    ScheduleError,
    as_utc,
    next_run_after,
)
from libs.common.delivery.digest_schedule import validate as validate_schedule
from libs.common.security.auth import Principal
from libs.common.tenancy.tenants import settings_of
from services.ingest.digest_api import queries as q
from services.ingest.digest_api.schemas import ScheduleIn, ScheduleList, ScheduleOut
from services.ingest.errors import ApiError


def check_digest_channel(channel: str) -> None:
    known = registry().names  # read now: a plugin registered late is a channel too
    if channel not in known:
        raise ApiError(
            422, f"unknown channel {channel!r}; known: {list(known)}", details={"channel": channel}
        )
    refusal = digest_refusal(channel)
    if refusal:
        raise ApiError(422, refusal, code="no_digest", details={"channel": channel})


@lru_cache(maxsize=1)
def defaults() -> DigestDefaults:
    """HERALD_DIGEST_DEFAULT_*: the same defaults the sender gives a new digest user."""
    return DigestDefaults()


async def tenant_defaults(session: AsyncSession, tenant: str) -> DigestDefaults:
    """The tenant's digest defaults (tenants.settings.digest) over HERALD_DIGEST_DEFAULT_*."""
    return (await settings_of(session, [tenant]))[tenant].digest.over(defaults())


async def list_schedules(session: AsyncSession, user: Principal) -> ScheduleList:
    rows = await q.schedules(session, user)
    return ScheduleList(schedules=[await _out(session, user, r) for r in rows])


async def get_schedule(session: AsyncSession, user: Principal, channel: str) -> ScheduleOut:
    row = await q.schedule(session, user, channel)
    if row is None:
        return await _default_out(session, user, channel)
    return await _out(session, user, row)


async def put_schedule(
    session: AsyncSession, user: Principal, channel: str, body: ScheduleIn, now: datetime
) -> ScheduleOut:
    return await _out(session, user, await save_schedule(session, user, channel, body, now))


async def save_schedule(
    session: AsyncSession, user: Principal, channel: str, body: ScheduleIn, now: datetime
) -> DigestSchedule:
    """Create or change the schedule under a row lock; flush only."""
    zone = body.timezone or await _user_zone(session, user)
    fresh = {"days_of_week": body.days, "time_of_day": body.time, "timezone": zone}
    row = await q.locked_schedule(session, user, channel, fresh, now)
    if row is None:
        raise ApiError(409, "the schedule changed concurrently; retry")
    row.next_run_at = next_run_on_change(row, body.enabled, body.days, body.time, zone, now)
    row.days_of_week, row.time_of_day, row.timezone = body.days, body.time, zone
    row.enabled, row.updated_at = body.enabled, now
    await session.flush()
    return row


def next_run_on_change(
    row: DigestSchedule, enabled: bool, days: list[int], at: str, zone: str, now: datetime
) -> datetime | None:
    current = as_utc(row.next_run_at) if row.next_run_at is not None else None
    if current is not None and current <= now:
        return current  # due: built on the old terms first, then the new ones apply
    if not enabled:
        return now if row.enabled else None  # a final digest of what was collected
    return next_run_after(now, days, at, zone)


async def _user_zone(session: AsyncSession, user: Principal) -> str:
    zone = await q.directory_zone(session, user)
    fallback = (await tenant_defaults(session, user.tenant)).digest_default_timezone
    if not zone:
        return fallback
    try:
        validate_schedule([], DEFAULT_TIME, zone)
    except ScheduleError:
        return fallback  # a directory typo must not make the schedule unsavable
    return zone


async def _out(session: AsyncSession, user: Principal, row: DigestSchedule) -> ScheduleOut:
    return ScheduleOut(
        channel=row.channel,
        days=list(row.days_of_week),
        time=row.time_of_day,
        timezone=row.timezone,
        enabled=row.enabled,
        configured=True,
        next_run_at=as_utc(row.next_run_at) if row.next_run_at else None,
        collecting_since=as_utc(row.window_start),
        waiting=await q.waiting(session, user, row.channel),
    )


async def _default_out(session: AsyncSession, user: Principal, channel: str) -> ScheduleOut:
    theirs = await tenant_defaults(session, user.tenant)
    return ScheduleOut(
        channel=channel,
        days=theirs.digest_default_days,
        time=theirs.digest_default_time,
        timezone=await _user_zone(session, user),
        enabled=True,
        configured=False,
        next_run_at=None,
        collecting_since=None,
        waiting=await q.waiting(session, user, channel),
    )
