"""Changing the tenant registry: ``herald tenant``, the admin, ``herald dev`` and the test
fixtures. Functions only flush; the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import Tenant
from libs.common.tenancy.tenant_settings import parse_settings
from libs.common.tenancy.tenants import TENANT_KEY

MAX_NAME_CHARS = 256


class TenantError(ValueError):
    """A change the registry refuses; the message says why."""


def check_key(key: str) -> str:
    if not TENANT_KEY.match(key):
        raise TenantError(
            f"tenant key {key[:80]!r}: 1-64 characters of a-z, 0-9, '-' and '_', "
            "starting with a letter or digit"
        )
    return key


def check_settings(data: Any) -> dict[str, Any]:
    """The settings as they will be stored, or TenantError naming each problem."""
    try:
        parsed = parse_settings(data)
    except ValueError as exc:
        raise TenantError(f"settings: {exc}") from exc
    return parsed.model_dump(mode="json", exclude_unset=True)


async def add_tenant(
    session: AsyncSession, key: str, name: str = "", settings: Any = None
) -> Tenant:
    check_key(key)
    if len(name) > MAX_NAME_CHARS:
        raise TenantError(f"name: at most {MAX_NAME_CHARS} characters")
    if await session.get(Tenant, key) is not None:
        raise TenantError(f"tenant {key!r} exists already")
    row = Tenant(key=key, name=name or key, enabled=True, settings=check_settings(settings))
    session.add(row)
    await session.flush()
    return row


async def set_enabled(session: AsyncSession, key: str, enabled: bool) -> Tenant:
    row = await session.get(Tenant, key)
    if row is None:
        raise TenantError(f"no tenant {key!r}")
    row.enabled = enabled
    await session.flush()
    return row


async def list_tenants(session: AsyncSession) -> list[Tenant]:
    return list(await session.scalars(select(Tenant).order_by(Tenant.key)))


async def ensure_tenants(session: AsyncSession, keys: Iterable[str]) -> int:
    """Register the tenants that are missing (enabled, no settings); how many were added."""
    existing = set(await session.scalars(select(Tenant.key)))
    missing = [key for key in dict.fromkeys(keys) if key not in existing]
    session.add_all(Tenant(key=key, name=key, enabled=True, settings={}) for key in missing)
    await session.flush()
    return len(missing)
