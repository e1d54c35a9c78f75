"""What the admin's views reach at request time: the ingest app's database, bus, settings and
tenant registry, typed (the one place the admin reads ``app.state``).

sqladmin wants a session maker when the admin is built, but the engine only exists once the
ingest lifespan has opened its resources; ``LateBoundSessions`` binds each new session to the
engine of the running app, so the admin shares ingest's pool instead of opening its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from libs.common.bus import Bus
from libs.common.delivery.channels import registry
from libs.common.runtime.resources import Resources
from libs.common.runtime.settings import BusSettings
from libs.common.tenancy.tenants import TenantRegistry


@dataclass(frozen=True)
class AdminContext:
    app: Starlette

    @property
    def resources(self) -> Resources:
        resources: Resources = self.app.state.resources
        return resources

    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self.resources.sessions

    @property
    def bus(self) -> Bus:
        return self.resources.bus

    @property
    def bus_settings(self) -> BusSettings:
        settings: BusSettings = self.app.state.settings
        return settings

    @property
    def tenants(self) -> TenantRegistry:
        tenants: TenantRegistry = self.app.state.tenants
        return tenants

    def available_channels(self) -> frozenset[str]:
        """Channels with a provider under the app's settings (libs/common/delivery/channels.py)."""
        return registry().available(self.app.state.settings)


class LateBoundSessions(async_sessionmaker[AsyncSession]):
    def __init__(self, ctx: AdminContext) -> None:
        super().__init__(class_=AsyncSession, expire_on_commit=False)
        self._ctx = ctx

    def __call__(self, **local_kw: Any) -> AsyncSession:
        return super().__call__(bind=self._ctx.resources.engine, **local_kw)
