"""The tenant registry (DESIGN §15): which tenants exist and may be served.

Ingest asks it for every event and the user API and the websocket for every token, so it is
read whole (dozens of rows) and kept ``REGISTRY_TTL_S``: one small query every few seconds per
process instead of one per message. The price is that a tenant added or disabled takes effect
within that time. While the database cannot be read the last list is kept (logged); with no
list at all the answer is ``TenantsUnavailable`` — an outage, never an allow.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import Tenant
from libs.common.db.outage import is_transient
from libs.common.runtime.errors import TransientError
from libs.common.tenancy.tenant_settings import TenantSettings, stored_settings

log = logging.getLogger("herald.tenants")

REGISTRY_TTL_S = 5.0  # how long a tenant added or disabled may take to be seen
DEFAULT_TENANT = "default"
# a new tenant's key: what a JWT claim, a URL and a metric label all carry without escaping
TENANT_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
UNKNOWN_TENANT = "unknown_tenant"  # the reason class of a refused event (the metric label too)


class TenantsUnavailable(TransientError):
    """The registry could not be read and no earlier copy is at hand."""


@dataclass(frozen=True)
class TenantInfo:
    key: str
    name: str
    enabled: bool
    settings: TenantSettings


def tenant_row_info(row: Tenant) -> TenantInfo:
    return TenantInfo(row.key, row.name, row.enabled, stored_settings(row.key, row.settings))


def refusal(tenants: Mapping[str, TenantInfo], tenant: str) -> str | None:
    """Why ``tenant`` may not be served (``unknown_tenant: …``), or None."""
    found = tenants.get(tenant)
    if found is None:
        return f"{UNKNOWN_TENANT}: no tenant {tenant[:128]!r} is registered"
    if not found.enabled:
        return f"{UNKNOWN_TENANT}: tenant {tenant!r} is disabled"
    return None


async def settings_of(session: AsyncSession, tenants: Iterable[str]) -> dict[str, TenantSettings]:
    """The settings of these tenants (a missing one: the defaults)."""
    wanted = set(tenants)
    rows = await session.scalars(select(Tenant).where(Tenant.key.in_(wanted)))
    found = {row.key: stored_settings(row.key, row.settings) for row in rows}
    return {key: found.get(key) or TenantSettings() for key in wanted}


class TenantRegistry:
    """A process's copy of the ``tenants`` table, reloaded when older than ``ttl_s``."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], ttl_s: float = REGISTRY_TTL_S
    ) -> None:
        self._sessions, self._ttl_s = sessions, ttl_s
        self._tenants: dict[str, TenantInfo] | None = None
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    async def all(self) -> Mapping[str, TenantInfo]:
        if self._tenants is not None and time.monotonic() - self._loaded_at < self._ttl_s:
            return self._tenants
        async with self._lock:  # concurrent callers share one reload
            if self._tenants is None or time.monotonic() - self._loaded_at >= self._ttl_s:
                await self._reload()
            assert self._tenants is not None
            return self._tenants

    async def get(self, tenant: str) -> TenantInfo | None:
        return (await self.all()).get(tenant)

    async def refusal(self, tenant: str) -> str | None:
        return refusal(await self.all(), tenant)

    def invalidate(self) -> None:
        """Read the table again on the next question (after this process changed it)."""
        self._loaded_at = 0.0

    async def _reload(self) -> None:
        try:
            async with self._sessions() as session:
                rows = (await session.scalars(select(Tenant))).all()
        except Exception as exc:
            if not is_transient(exc):
                raise
            if self._tenants is None:
                raise TenantsUnavailable(f"tenant registry unreadable: {exc!r}") from exc
            log.warning("tenant registry unreadable, keeping the last copy: %r", exc)
            self._loaded_at = time.monotonic()  # do not hammer a database that is down
            return
        self._tenants = {row.key: tenant_row_info(row) for row in rows}
        self._loaded_at = time.monotonic()
