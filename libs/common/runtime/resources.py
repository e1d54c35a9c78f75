"""The long-lived resources a service's lifespan opens and closes: engine, sessions, bus."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from libs.common.bus import Bus, make_bus
from libs.common.db.engine import make_engine, make_sessionmaker, ping
from libs.common.runtime.settings import BusSettings, DatabaseSettings
from libs.common.web.readiness import Check


@dataclass
class Resources:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    bus: Bus
    unacked_limit_s: float  # a message held unsettled longer: the consumer is stuck

    @classmethod
    async def open(cls, db: DatabaseSettings, bus: BusSettings) -> Resources:
        engine = make_engine(db.database_url, db.db_pool_size)
        the_bus = make_bus(bus.amqp_url)
        await the_bus.connect()
        return cls(engine, make_sessionmaker(engine), the_bus, bus.bus_unacked_limit_s)

    async def close(self) -> None:
        await self.bus.close()
        await self.engine.dispose()

    def checks(self) -> list[Check]:
        return [
            ("database", lambda: ping(self.engine)),
            ("broker", self.bus.ping),
            ("consumers", lambda: self.bus.held.check(self.unacked_limit_s)),
        ]
