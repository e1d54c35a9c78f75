"""Websocket gateway (DESIGN §8): wiring only — resources, the bus queue, the server, sweeps.

Built directly on ``websockets`` (not ASGI): one process holds 15,000 connections, and the
plain-HTTP endpoints (/healthz, /readyz, /metrics: ``plain_http.py``) are answered from
``process_request`` before any upgrade; ``sweep.py`` drops idle and expired connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.typing import Origin

from libs.common.bus.base import Consumer, QueueSpec
from libs.common.bus.topology import ACCEPTED_EXCHANGE, BROWSER_EXCHANGE
from libs.common.clients.mediator_client import MediatorClient
from libs.common.runtime.metrics import MetricsListener
from libs.common.runtime.resources import Resources
from libs.common.security.auth import TokenVerifier
from libs.common.tenancy.tenants import TenantRegistry
from services.websocket.fanout import Fanout
from services.websocket.feed_recovery import FeedRecovery
from services.websocket.feeds import load_feeds
from services.websocket.header_limit import HeaderLimitedConnection
from services.websocket.plain_http import PlainHttp
from services.websocket.push import Pusher
from services.websocket.registry import Registry
from services.websocket.replay import Replayer
from services.websocket.session import Sessions
from services.websocket.settings import WebsocketSettings
from services.websocket.sweep import Sweep
from services.websocket.tenant_watch import TenantWatch

log = logging.getLogger("herald.websocket")

MAX_INBOUND_QUEUE = 4  # frames buffered per connection before reading pauses (memory)
CLOSE_TIMEOUT_S = 3.0
SEND_HIGH_WATER_BYTES = 16 * 1024  # only our own replies await drain; pushes never do
# Accept queue: a restart makes thousands of browsers reconnect at once; the default of 100
# overflows and the kernel resets them (net.core.somaxconn caps it, 4096 here).
LISTEN_BACKLOG = 4096


class Gateway:
    def __init__(self, settings: WebsocketSettings) -> None:
        self.settings = settings
        self.feeds = load_feeds(settings.ws_feeds_file)  # invalid YAML stops the start here
        self.registry = Registry(settings.ws_max_subscriptions)
        self.pusher = Pusher(settings.ws_max_backlog_bytes)
        self.sweep = Sweep(self.registry, self.pusher, settings.ws_idle_timeout_s)
        self.resources: Resources | None = None
        self.mediator: MediatorClient | None = None
        self.consumer: Consumer | None = None
        self.sweeper: asyncio.Task[None] | None = None
        self.tenant_watch: TenantWatch | None = None
        self.watcher: asyncio.Task[None] | None = None
        self.handling = 0  # connections inside the handler, authenticated or not
        self._sessions: Sessions | None = None
        self.metrics_listener = MetricsListener(settings)  # HERALD_METRICS_PORT, when set

    async def start(self, host: str, port: int, reuse_port: bool = False) -> Server:
        s = self.settings
        self.resources = await Resources.open(s, s)
        self.mediator = MediatorClient(s.mediator_url, s.mediator_api_key, s.mediator_timeout_s)
        replayer = Replayer(
            self.resources.sessions, self.pusher, s.ws_resume_limit, s.ws_resume_max_items
        )
        fanout = Fanout(self.registry, self.feeds, self.pusher, self.mediator, replayer)
        recovery = FeedRecovery(
            self.resources.sessions,
            fanout,
            self.pusher,
            s.ws_feed_recovery_minutes,
            s.ws_feed_recovery_events,
        )
        tenants = TenantRegistry(self.resources.sessions)  # DESIGN §15
        self.tenant_watch = TenantWatch(tenants, self.registry, self.pusher)
        self._sessions = Sessions(
            s,
            TokenVerifier(s, tenants=tenants),
            self.registry,
            self.feeds,
            self.pusher,
            self.resources.sessions,
            replayer,
            recovery,
            self.tenant_watch,
        )
        self.consumer = await self.resources.bus.consume_raw(
            self._queue_spec(), fanout.on_message, s.amqp_prefetch
        )
        self.sweeper = asyncio.create_task(self.sweep.run_forever())
        self.watcher = asyncio.create_task(self.tenant_watch.run_forever())
        await self.metrics_listener.start()
        return await serve(
            self.handle,
            host,
            port,
            process_request=PlainHttp(s, self.resources, lambda: self.handling).route,
            create_connection=HeaderLimitedConnection,  # request heads capped (DESIGN §13)
            origins=self._origins(),
            compression=None,  # permessage-deflate costs ~64 KiB of zlib state per connection
            max_size=s.ws_max_message_bytes,
            max_queue=MAX_INBOUND_QUEUE,
            write_limit=SEND_HIGH_WATER_BYTES,
            ping_interval=None,  # the idle sweep replaces a keepalive task per connection
            close_timeout=CLOSE_TIMEOUT_S,
            reuse_port=reuse_port,
            backlog=LISTEN_BACKLOG,
        )

    def _queue_spec(self) -> QueueSpec:
        """One exclusive, auto-deleted queue per process: every instance sees every push."""
        bindings = [(BROWSER_EXCHANGE, "")]
        bindings += [(ACCEPTED_EXCHANGE, key) for key in self.feeds.routing_keys()]
        name = f"herald.websocket.{uuid.uuid4().hex[:16]}"
        return QueueSpec(name=name, bindings=bindings, durable=False, exclusive=True)

    def _origins(self) -> list[Origin | None]:
        allowed: list[Origin | None] = [Origin(o) for o in self.settings.ws_allowed_origins]
        if self.settings.ws_allow_missing_origin:
            allowed.append(None)
        return allowed

    async def close(self) -> None:
        await self.metrics_listener.close()
        for task in (self.sweeper, self.watcher):
            if task is not None:
                task.cancel()
        if self.consumer is not None:
            await self.consumer.cancel()
        if self.mediator is not None:
            await self.mediator.close()
        if self.resources is not None:
            await self.resources.close()

    async def handle(self, conn: ServerConnection) -> None:
        assert self._sessions is not None, "start() first"
        self.handling += 1
        try:
            await self._sessions.handle(conn)
        finally:
            self.handling -= 1


async def run(settings: WebsocketSettings, host: str, port: int, reuse_port: bool = False) -> None:
    gateway = Gateway(settings)
    server = await gateway.start(host, port, reuse_port)
    log.info("websocket gateway on %s:%d, feeds %s", host, port, sorted(gateway.feeds.feeds))
    try:
        await server.serve_forever()
    except asyncio.CancelledError:
        pass
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await server.wait_closed()
        await gateway.close()
