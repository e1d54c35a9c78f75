"""The digest schedule rows and what they read, scoped to (tenant, user); flush only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.dialect import upsert
from libs.common.db.models import Delivery, DeliveryStatus, DigestSchedule, Recipient
from libs.common.security.auth import Principal


async def schedules(session: AsyncSession, user: Principal) -> Sequence[DigestSchedule]:
    rows = await session.scalars(
        select(DigestSchedule)
        .where(DigestSchedule.tenant == user.tenant, DigestSchedule.user_id == user.user_id)
        .order_by(DigestSchedule.channel)
    )
    return rows.all()


async def schedule(session: AsyncSession, user: Principal, channel: str) -> DigestSchedule | None:
    return await session.get(DigestSchedule, (user.tenant, user.user_id, channel))


async def locked_schedule(
    session: AsyncSession, user: Principal, channel: str, fresh: Mapping[str, object], now: datetime
) -> DigestSchedule | None:
    """The channel's row, created from ``fresh`` (switched off, collecting from ``now``) when
    missing, then locked ``FOR UPDATE`` and read anew: a change during a build waits for it."""
    await session.execute(
        upsert(session, DigestSchedule)
        .values(tenant=user.tenant, user_id=user.user_id, channel=channel, enabled=False)
        .values(window_start=now, next_run_at=None, updated_at=now, **fresh)
        .on_conflict_do_nothing()
    )
    return await session.scalar(
        select(DigestSchedule)
        .where(
            DigestSchedule.tenant == user.tenant,
            DigestSchedule.user_id == user.user_id,
            DigestSchedule.channel == channel,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def directory_zone(session: AsyncSession, user: Principal) -> str | None:
    """The user's time zone as the directory has it (possibly empty or a typo)."""
    return await session.scalar(
        select(Recipient.timezone).where(
            Recipient.tenant == user.tenant, Recipient.user_id == user.user_id
        )
    )


async def waiting(session: AsyncSession, user: Principal, channel: str) -> int:
    """Deliveries held for the user's next digest on the channel."""
    count = await session.scalar(
        select(func.count()).where(
            Delivery.tenant == user.tenant,
            Delivery.user_id == user.user_id,
            Delivery.channel == channel,
            Delivery.status == DeliveryStatus.DIGEST.value,
        )
    )
    return int(count or 0)
