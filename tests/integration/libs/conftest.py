"""The ``bus`` fixture: each test runs once on the in-memory bus and once on RabbitMQ."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from libs.common.bus import Bus, make_bus
from libs.common.bus.memory import MemoryBus
from tests.vhosts import VhostPool


@pytest.fixture(params=["memory", "amqp"])
async def bus(request: pytest.FixtureRequest, vhosts: VhostPool) -> AsyncIterator[Bus]:
    url = None
    if request.param == "memory":
        the_bus: Bus = MemoryBus()
    else:
        url = await asyncio.to_thread(vhosts.take)
        the_bus = make_bus(url)
    await the_bus.connect()
    yield the_bus
    await the_bus.close()
    if url:
        await asyncio.to_thread(vhosts.give_back, url)
