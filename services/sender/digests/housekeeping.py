"""Waiting items nobody would ever send: give them a schedule, or release them. Flush only.

* DIGEST items of a (user, channel) without any schedule — the user chose "digest" for a
  module but never picked a time: a default schedule is created (the tenant's digest defaults,
  else HERALD_DIGEST_DEFAULT_*: every day at 09:00 in the user's time zone from the
  directory), and the next digest takes them.
* DIGEST items of a schedule with no next run — switched off (after its final digest) or
  without days: they are released as PENDING and sent one by one. Switching the digest off
  means "stop batching", never "drop". A ``low`` item is the exception: it never interrupts
  by itself (DESIGN §6), so it stays in the inbox only (SKIPPED, with the reason).
* DIGEST items that may never wait — a critical event's, or on a channel without digests
  (the browser), left from before those rules — are released as PENDING; such a channel never
  gets a default schedule.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from sqlalchemy import ColumnElement, and_, case, exists, func, literal, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.dialect import upsert
from libs.common.db.models import Delivery, DeliveryStatus, DigestSchedule, Notification, Recipient
from libs.common.delivery.channels import registry
from libs.common.delivery.digest_schedule import (
    DigestDefaults,
    ScheduleError,
    next_run_after,
    parse_zone,
)
from libs.common.schemas.envelope import Priority
from libs.common.tenancy.tenants import settings_of
from services.sender.digests.collect import Key
from services.sender.digests.settings import DigestSettings

SWEEP_LIMIT = 1_000  # keys per sweep; the next sweep takes the rest
REASON_MAX_CHARS = 256
RELEASED_PREFIX = "digest off, sent instantly; "
LOW_KEPT_PREFIX = "low priority: digest off, inbox only; "
CRITICAL_PREFIX = "critical: never digested, sent instantly; "

_DIGEST = DeliveryStatus.DIGEST.value


def _priority_is(value: str) -> ColumnElement[bool]:
    return exists().where(
        Notification.id == Delivery.notification_id, Notification.priority == value
    )


def _prefixed(prefix: ColumnElement[str] | str) -> ColumnElement[str]:
    start = literal(prefix) if isinstance(prefix, str) else prefix
    return func.substr(start + Delivery.reason, 1, REASON_MAX_CHARS)


def _same_key() -> object:
    return and_(
        DigestSchedule.tenant == Delivery.tenant,
        DigestSchedule.user_id == Delivery.user_id,
        DigestSchedule.channel == Delivery.channel,
    )


class ScheduleRow(TypedDict):
    """A digest user's default schedule, as inserted (kept if one exists meanwhile)."""

    tenant: str
    user_id: str
    channel: str
    days_of_week: list[int]
    time_of_day: str
    timezone: str
    enabled: bool
    window_start: datetime
    next_run_at: datetime | None  # None: no day of the week chosen
    updated_at: datetime


async def provision_defaults(session: AsyncSession, now: datetime, s: DigestSettings) -> int:
    rows = await session.execute(
        select(Delivery.tenant, Delivery.user_id, Delivery.channel)
        .where(
            Delivery.status == _DIGEST,
            ~exists().where(_same_key()),  # type: ignore[arg-type]
            Delivery.channel.not_in(registry().without_digest()),
        )
        .distinct()
        .limit(SWEEP_LIMIT)
    )
    keys: list[Key] = [(t, u, c) for t, u, c in rows]
    if not keys:
        return 0
    zones = await _zones(session, keys)
    tenants = await settings_of(session, {k[0] for k in keys})  # each tenant's digest defaults
    values = [
        _default_row(k, zones.get((k[0], k[1])), now, tenants[k[0]].digest.over(s)) for k in keys
    ]
    await session.execute(upsert(session, DigestSchedule).on_conflict_do_nothing(), values)
    return len(keys)


async def _zones(session: AsyncSession, keys: list[Key]) -> dict[tuple[str, str], str]:
    found = await session.execute(
        select(Recipient.tenant, Recipient.user_id, Recipient.timezone).where(
            tuple_(Recipient.tenant, Recipient.user_id).in_(list({(k[0], k[1]) for k in keys}))
        )
    )
    return {(t, u): z for t, u, z in found}


def _default_row(key: Key, zone: str | None, now: datetime, s: DigestDefaults) -> ScheduleRow:
    timezone = zone or s.digest_default_timezone
    try:
        parse_zone(timezone)
    except ScheduleError:
        timezone = s.digest_default_timezone  # a directory typo must not strand the items
    days, at = s.digest_default_days, s.digest_default_time
    return {
        "tenant": key[0],
        "user_id": key[1],
        "channel": key[2],
        "days_of_week": days,
        "time_of_day": at,
        "timezone": timezone,
        "enabled": True,
        "window_start": now,
        "next_run_at": next_run_after(now, days, at, timezone),
        "updated_at": now,
    }


async def release_unscheduled(session: AsyncSession, now: datetime) -> list[int]:
    """DIGEST items of schedules with no next run → PENDING now; returns their ids."""
    waiting = exists().where(
        Delivery.tenant == DigestSchedule.tenant,
        Delivery.user_id == DigestSchedule.user_id,
        Delivery.channel == DigestSchedule.channel,
        Delivery.status == _DIGEST,
    )
    query = (
        select(DigestSchedule.tenant, DigestSchedule.user_id, DigestSchedule.channel)
        .where(DigestSchedule.next_run_at.is_(None), waiting)
        .limit(SWEEP_LIMIT)
        # a PUT or a build holding the row goes first (SQLite renders no FOR UPDATE)
        .with_for_update(skip_locked=True)
    )
    keys = [(t, u, c) for t, u, c in await session.execute(query)]
    if not keys:
        return []
    theirs = and_(
        tuple_(Delivery.tenant, Delivery.user_id, Delivery.channel).in_(keys),
        Delivery.status == _DIGEST,
    )
    await session.execute(
        update(Delivery)
        .where(theirs, _priority_is(Priority.LOW))
        .values(status=DeliveryStatus.SKIPPED.value, reason=_prefixed(LOW_KEPT_PREFIX))
        .execution_options(synchronize_session=False)
    )
    return await _release(session, theirs, _prefixed(RELEASED_PREFIX), now)


async def release_never_waiting(session: AsyncSession, now: datetime) -> list[int]:
    """Critical items and items on a channel without digests → PENDING now; their ids."""
    no_digest = Delivery.channel.in_(registry().without_digest())
    ids = (
        select(Delivery.id)
        .where(Delivery.status == _DIGEST, or_(no_digest, _priority_is(Priority.CRITICAL)))
        .limit(SWEEP_LIMIT)
    )
    channel_says = literal("the ") + Delivery.channel + literal(" has no digest, sent instantly; ")
    prefix = case((no_digest, channel_says), else_=literal(CRITICAL_PREFIX))
    return await _release(session, Delivery.id.in_(ids), _prefixed(prefix), now)


async def _release(
    session: AsyncSession, which: ColumnElement[bool], reason: ColumnElement[str], now: datetime
) -> list[int]:
    released = await session.scalars(
        update(Delivery)
        .where(which, Delivery.status == _DIGEST)
        .values(status=DeliveryStatus.PENDING.value, next_attempt_at=now, reason=reason)
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    )
    return list(released)
