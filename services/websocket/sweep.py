"""The idle and token-expiry sweep: one pass over all clients every ``SWEEP_S``, not a timer
per connection (and not a keepalive task each: ``ping_interval=None`` in ``app.py``)."""

from __future__ import annotations

import asyncio
import time

from libs.common.security.auth import LEEWAY_S
from services.websocket import protocol
from services.websocket.push import Pusher
from services.websocket.registry import Registry

SWEEP_S = 5.0  # idle and token-expiry checks: one pass over all clients, not a timer each


class Sweep:
    def __init__(self, registry: Registry, pusher: Pusher, idle_timeout_s: float) -> None:
        self.registry, self.pusher, self.idle_timeout_s = registry, pusher, idle_timeout_s

    async def run_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_S)
            self.once()

    def once(self) -> None:
        idle_before = time.monotonic() - self.idle_timeout_s
        expired_before = time.time() - LEEWAY_S
        for client in self.registry.clients():
            if client.dropped:
                continue
            if client.last_seen < idle_before:
                client.dropped = True
                self.pusher.close(client, protocol.CLOSE_IDLE, "idle timeout: send pings")
            elif 0 < client.exp < expired_before:
                client.dropped = True
                self.pusher.close(client, protocol.CLOSE_POLICY, "token expired: reconnect")
