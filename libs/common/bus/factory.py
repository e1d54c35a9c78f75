"""Pick the bus from HERALD_AMQP_URL: memory:// or amqp(s)://."""

from __future__ import annotations

from libs.common.bus.base import Bus

_MEMORY_SINGLETON: dict[str, Bus] = {}


def make_bus(url: str, *, producer: bool = False) -> Bus:
    """``producer``: the bus of an ``EventProducer`` (``AmqpBus``; the in-memory bus has no
    users to stamp nor rights to respect)."""
    if url.startswith("memory://"):
        # one in-memory broker per process, shared by every service `herald dev` runs
        from libs.common.bus.memory import MemoryBus

        return _MEMORY_SINGLETON.setdefault(url, MemoryBus())
    from libs.common.bus.amqp import AmqpBus

    return AmqpBus(url, producer=producer)
