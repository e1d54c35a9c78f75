"""Saved-filter subscriptions of one user: validated on every write; flush only."""

from __future__ import annotations

from typing import Any, TypedDict

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.dialect import on_postgresql
from libs.common.db.models import Subscription, utcnow
from libs.common.delivery.channels import registry
from libs.common.security.auth import Principal
from libs.common.subscriptions.filters import Condition, FilterError, parse_filter, stored_filter
from services.ingest.errors import ApiError
from services.ingest.user_api.schemas import SubscriptionIn

# Each subscription is evaluated for every matching event (DESIGN §5.2); a cap keeps one user
# from turning the processor's candidate set into thousands of filters.
MAX_SUBSCRIPTIONS_PER_USER = 100
_LOCK_SPACE = 0x53554253  # "SUBS": the advisory-lock namespace of the per-user cap


def checked_filter(raw: list[dict[str, Any]]) -> list[Condition]:
    """422 naming the bad condition: ``filter[1]: op: Input should be 'eq', ...``."""
    try:
        return parse_filter(raw)
    except FilterError as exc:
        where = f"filter[{exc.index}]" if exc.index is not None else "filter"
        raise ApiError(
            422,
            f"{where}: {exc.message}",
            code="invalid_filter",
            details={"condition": exc.index, "message": exc.message},
        ) from exc


def _checked_channels(channels: list[str]) -> list[str]:
    known = registry().names  # read now: a plugin registered late is a channel too
    unknown = [c for c in channels if c not in known]
    if unknown:
        raise ApiError(
            422,
            f"channels: unknown {unknown}; known: {list(known)}",
            details={"unknown": unknown},
        )
    return list(dict.fromkeys(channels))  # de-duplicated, order kept


class SubscriptionValues(TypedDict):
    """The columns of a ``subscriptions`` row that the user's body sets (create and replace)."""

    name: str
    source: str
    entity_type: str
    project_id: str | None
    types: list[str]
    filter: list[dict[str, Any]]
    channels: list[str]
    enabled: bool
    remind: dict[str, Any] | None


def _values(body: SubscriptionIn) -> SubscriptionValues:
    conditions = checked_filter(body.filter)
    return {
        "name": body.name,
        "source": body.source,
        "entity_type": body.entity_type,
        "project_id": body.project_id,
        "types": list(dict.fromkeys(body.types)),
        "filter": stored_filter(conditions),
        "channels": _checked_channels(body.channels),
        "enabled": body.enabled,
        "remind": body.remind.stored() if body.remind else None,
    }


async def list_mine(session: AsyncSession, user: Principal) -> list[Subscription]:
    rows = await session.scalars(
        select(Subscription)
        .where(Subscription.tenant == user.tenant, Subscription.user_id == user.user_id)
        .order_by(Subscription.id)
    )
    return list(rows)


async def get_mine(session: AsyncSession, user: Principal, sub_id: int) -> Subscription:
    found = await session.scalar(
        select(Subscription).where(
            Subscription.id == sub_id,
            Subscription.tenant == user.tenant,
            Subscription.user_id == user.user_id,
        )
    )
    if found is None:  # someone else's subscription looks exactly like a missing one
        raise ApiError(404, f"subscription {sub_id} not found")
    return found


async def _lock_user(session: AsyncSession, user: Principal) -> None:
    """Serialise one user's creates until commit, so count-then-insert cannot overshoot the
    cap (160 parallel creates stored 103 without it). Other users are not held up."""
    if on_postgresql(session):
        key = f"{user.tenant}\x1f{user.user_id}"
        await session.execute(
            text("SELECT pg_advisory_xact_lock(:space, hashtext(:key))"),
            {"space": _LOCK_SPACE, "key": key},
        )
        return
    # SQLite has no row or advisory locks: a no-op write takes the database's write lock
    # before the count (as the processor's claim does).
    await session.execute(
        update(Subscription)
        .where(Subscription.tenant == user.tenant, Subscription.user_id == user.user_id)
        .values(id=Subscription.id)
    )


async def create(session: AsyncSession, user: Principal, body: SubscriptionIn) -> Subscription:
    values = _values(body)
    await _lock_user(session, user)
    count = await session.scalar(
        select(func.count())
        .select_from(Subscription)
        .where(Subscription.tenant == user.tenant, Subscription.user_id == user.user_id)
    )
    if (count or 0) >= MAX_SUBSCRIPTIONS_PER_USER:
        raise ApiError(409, f"at most {MAX_SUBSCRIPTIONS_PER_USER} subscriptions per user")
    sub = Subscription(tenant=user.tenant, user_id=user.user_id, **values)
    session.add(sub)
    await session.flush()
    return sub


async def replace(
    session: AsyncSession, user: Principal, sub_id: int, body: SubscriptionIn
) -> Subscription:
    values = _values(body)
    sub = await get_mine(session, user, sub_id)
    for key, value in values.items():
        setattr(sub, key, value)
    sub.updated_at = utcnow()
    await session.flush()
    return sub


async def remove(session: AsyncSession, user: Principal, sub_id: int) -> None:
    await session.delete(await get_mine(session, user, sub_id))
    await session.flush()
