"""Channel preferences' reads and writes, scoped to the user's tenant; flush only. The rules
they feed (resolution, what may be changed) are in ``preference_rules.py``."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.dialect import upsert
from libs.common.db.models import ChannelPreference, EventType
from libs.common.security.auth import Principal
from libs.common.tenancy.tenants import settings_of
from services.ingest.user_api.preference_rules import Modes, Module, modules_of
from services.ingest.user_api.schemas import PreferenceChange


async def load_modules(session: AsyncSession, tenant: str) -> dict[str, Module]:
    """The modules as the tenant's events see them (``preference_rules.modules_of``), from
    its own event type rows and the global ones."""
    rows = await session.scalars(
        select(EventType).where(or_(EventType.tenant.is_(None), EventType.tenant == tenant))
    )
    return modules_of(rows)


async def load_rows(session: AsyncSession, user: Principal) -> dict[tuple[str, str], str]:
    rows = await session.scalars(
        select(ChannelPreference).where(
            ChannelPreference.tenant == user.tenant, ChannelPreference.user_id == user.user_id
        )
    )
    return {(r.source, r.channel): r.mode for r in rows}


async def tenant_modes(session: AsyncSession, tenant: str) -> Modes:
    """The tenant's default mode per (module or "*", channel): tenants.settings.default_modes."""
    modes = (await settings_of(session, [tenant]))[tenant].default_modes
    return {(m, ch): how for m, chans in modes.items() for ch, how in chans.items()}


async def apply_changes(
    session: AsyncSession, user: Principal, changes: Iterable[PreferenceChange]
) -> None:
    for change in changes:
        key = {"tenant": user.tenant, "user_id": user.user_id, "source": change.source}
        if change.mode is None:
            await session.execute(
                delete(ChannelPreference).filter_by(**key, channel=change.channel)
            )
            continue
        stmt = upsert(session, ChannelPreference).values(
            **key, channel=change.channel, mode=change.mode.value
        )
        # an upsert: two concurrent PUTs of the same setting must not collide on the key
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["tenant", "user_id", "source", "channel"],
                set_={"mode": stmt.excluded.mode},
            )
        )
