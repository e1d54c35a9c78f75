"""The ``bus`` fixture: each test runs once on the in-memory bus and once on RabbitMQ."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from libs.common.bus import Bus, make_bus
from libs.common.bus.memory import MemoryBus
from tests.infra import create_vhost, delete_vhost, unique_name


@pytest.fixture(params=["memory", "amqp"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    vhost = None
    if request.param == "memory":
        the_bus: Bus = MemoryBus()
    else:
        vhost = unique_name("herald_t")
        the_bus = make_bus(await create_vhost(vhost))
    await the_bus.connect()
    yield the_bus
    await the_bus.close()
    if vhost:
        await delete_vhost(vhost)
