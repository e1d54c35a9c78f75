"""What the people of a batch chose: channel preferences, and which channels they get digests
on (read only when a ``low`` event needs it). One query per tenant and kind per batch."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Executable, select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import ChannelPreference, DigestSchedule
from services.processor import pgsql
from services.processor.channels import Prefs
from services.processor.directory import Key


def _users_by_tenant(keys: Iterable[Key]) -> dict[str, list[str]]:
    by_tenant: dict[str, set[str]] = defaultdict(set)
    for tenant, user in keys:
        by_tenant[tenant].add(user)
    return {tenant: sorted(users) for tenant, users in by_tenant.items()}


async def _rows(
    session: AsyncSession,
    keys: Iterable[Key],
    pg_sql: str,
    portable: Callable[[str, list[str]], Executable],
) -> list[tuple[str, tuple[Any, ...]]]:
    """(tenant, row) for the keys' users; ``portable(tenant, users)`` builds the SELECT used
    off PostgreSQL, ``pg_sql`` takes ($1 tenant, $2 users) on the raw connection."""
    conn = await pgsql.driver(session)
    found: list[tuple[str, tuple[Any, ...]]] = []
    for tenant, users in _users_by_tenant(keys).items():
        if conn is not None:
            rows = await pgsql.fetch(conn, pg_sql, tenant, users)
        else:
            rows = [tuple(r) for r in (await session.execute(portable(tenant, users))).all()]
        found += [(tenant, row) for row in rows]
    return found


def _preference_select(tenant: str, users: list[str]) -> Executable:
    cp = ChannelPreference
    return select(cp.user_id, cp.source, cp.channel, cp.mode).where(
        cp.tenant == tenant, cp.user_id.in_(users)
    )


def _schedule_select(tenant: str, users: list[str]) -> Executable:
    ds = DigestSchedule
    return select(ds.user_id, ds.channel).where(
        ds.tenant == tenant, ds.user_id.in_(users), ds.enabled.is_(True)
    )


async def preferences(session: AsyncSession, keys: Iterable[Key]) -> dict[Key, Prefs]:
    prefs: dict[Key, dict[tuple[str, str], str]] = defaultdict(dict)
    found = await _rows(session, keys, pgsql.PREFERENCES_SQL, _preference_select)
    for tenant, (user, source, channel, how) in found:
        prefs[(tenant, user)][(source, channel)] = how
    return dict(prefs)


async def digest_channels(session: AsyncSession, keys: Iterable[Key]) -> dict[Key, frozenset[str]]:
    """Per person, the channels with an enabled digest schedule."""
    channels: dict[Key, set[str]] = defaultdict(set)
    for tenant, (user, channel) in await _rows(
        session, keys, pgsql.DIGEST_CHANNELS_SQL, _schedule_select
    ):
        channels[(tenant, user)].add(channel)
    return {key: frozenset(found) for key, found in channels.items()}
