"""GET/PUT /v1/digest: the user's digest schedule per channel (days, time, time zone).

How a change is applied (docs/digests.md has the whole story):

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
from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.auth import Principal
from libs.common.channel_rules import digest_refusal
from libs.common.db.engine import dialect_name
from libs.common.db.models import Delivery, DeliveryStatus, DigestSchedule, Recipient, utcnow
from libs.common.digest_schedule import (
    ALL_DAYS,
    DEFAULT_TIME,
    DigestDefaults,
    ScheduleError,
    as_utc,
    next_run_after,
)
from libs.common.digest_schedule import validate as validate_schedule
from libs.common.tenants import settings_of
from services.ingest.auth_deps import CurrentUser
from services.ingest.errors import ApiError, error_responses
from services.ingest.user_api.edge import tx
from services.ingest.user_api.schemas import CHANNELS

CHANNEL_PATTERN = "^(" + "|".join(CHANNELS) + ")$"

router = APIRouter(prefix="/v1/digest", tags=["digest"], responses=error_responses(401, 422, 503))
ChannelPath = Annotated[str, Path(pattern=CHANNEL_PATTERN, examples=["email"])]


def check_digest_channel(channel: str) -> None:
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


class ScheduleIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"days": [0, 2, 4], "time": "09:00", "timezone": "Europe/Berlin"}]
        },
    )

    days: list[int] = Field(
        default=list(ALL_DAYS), max_length=7, description="0 = Monday … 6 = Sunday"
    )
    time: str = Field(default=DEFAULT_TIME, description="local HH:MM", examples=["09:00"])
    timezone: str | None = Field(
        default=None, description="IANA name; default: the user's time zone from the directory"
    )
    enabled: bool = Field(default=True, description="false: no more digests on this channel")

    # ScheduleError is a ValueError: pydantic reports it as a 422 naming the field
    @field_validator("days")
    @classmethod
    def _days(cls, value: list[int]) -> list[int]:
        return validate_schedule(value, DEFAULT_TIME, "UTC")

    @field_validator("time")
    @classmethod
    def _time(cls, value: str) -> str:
        validate_schedule([], value, "UTC")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            validate_schedule([], DEFAULT_TIME, value)
        return value

    @model_validator(mode="after")
    def _some_day(self) -> ScheduleIn:
        if self.enabled and not self.days:
            raise ValueError("an enabled digest needs at least one day")
        return self


class ScheduleOut(BaseModel):
    channel: str = Field(examples=["email"])
    days: list[int] = Field(examples=[[0, 2, 4]])
    time: str = Field(examples=["09:00"])
    timezone: str = Field(examples=["Europe/Berlin"])
    enabled: bool
    configured: bool = Field(description="false: no schedule saved yet; these are the defaults")
    next_run_at: datetime | None = Field(description="UTC; null when switched off")
    collecting_since: datetime | None = Field(description="start of the window being collected")
    waiting: int = Field(description="items waiting for the next digest on this channel")


class ScheduleList(BaseModel):
    schedules: list[ScheduleOut]


@router.get("", summary="The user's digest schedules, one per configured channel")
async def list_schedules(request: Request, user: CurrentUser) -> ScheduleList:
    async with tx(request) as session:
        rows = await session.scalars(
            select(DigestSchedule)
            .where(DigestSchedule.tenant == user.tenant, DigestSchedule.user_id == user.user_id)
            .order_by(DigestSchedule.channel)
        )
        return ScheduleList(schedules=[await _out(session, user, r) for r in rows])


@router.get("/{channel}", summary="One channel's digest schedule (defaults when not saved)")
async def get_schedule(request: Request, user: CurrentUser, channel: ChannelPath) -> ScheduleOut:
    check_digest_channel(channel)
    async with tx(request) as session:
        row = await session.get(DigestSchedule, (user.tenant, user.user_id, channel))
        if row is None:
            return await _default_out(session, user, channel)
        return await _out(session, user, row)


@router.put(
    "/{channel}",
    summary="Set one channel's digest schedule",
    description="Nothing already collected is lost or sent twice: see docs/digests.md. "
    "The browser has no digest (422, code `no_digest`).",
)
async def put_schedule(
    request: Request, user: CurrentUser, channel: ChannelPath, body: ScheduleIn
) -> ScheduleOut:
    check_digest_channel(channel)
    async with tx(request) as session:
        row = await save_schedule(session, user, channel, body, utcnow())
        return await _out(session, user, row)


async def save_schedule(
    session: AsyncSession, user: Principal, channel: str, body: ScheduleIn, now: datetime
) -> DigestSchedule:
    """Create or change the schedule under a row lock; flush only."""
    zone = body.timezone or await _user_zone(session, user)
    insert = postgresql.insert if dialect_name(session) == "postgresql" else sqlite.insert
    fresh = {"days_of_week": body.days, "time_of_day": body.time, "timezone": zone}
    await session.execute(
        insert(DigestSchedule)
        .values(tenant=user.tenant, user_id=user.user_id, channel=channel, enabled=False)
        .values(window_start=now, next_run_at=None, updated_at=now, **fresh)
        .on_conflict_do_nothing()
    )
    row = await session.scalar(
        select(DigestSchedule)
        .where(
            DigestSchedule.tenant == user.tenant,
            DigestSchedule.user_id == user.user_id,
            DigestSchedule.channel == channel,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
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
    zone = await session.scalar(
        select(Recipient.timezone).where(
            Recipient.tenant == user.tenant, Recipient.user_id == user.user_id
        )
    )
    fallback = (await tenant_defaults(session, user.tenant)).digest_default_timezone
    if not zone:
        return fallback
    try:
        validate_schedule([], DEFAULT_TIME, zone)
    except ScheduleError:
        return fallback  # a directory typo must not make the schedule unsavable
    return zone


async def _waiting(session: AsyncSession, user: Principal, channel: str) -> int:
    count = await session.scalar(
        select(func.count()).where(
            Delivery.tenant == user.tenant,
            Delivery.user_id == user.user_id,
            Delivery.channel == channel,
            Delivery.status == DeliveryStatus.DIGEST.value,
        )
    )
    return int(count or 0)


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
        waiting=await _waiting(session, user, row.channel),
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
        waiting=await _waiting(session, user, channel),
    )
