"""Herald's real services for browser tests, in one background event loop, each on its own
free loopback port: ingest (admin, user API, inbox page), and for the live inbox also the
processor, the sender, the permissions mediator (asking the reference module backend) and
the websocket gateway. The test thread drives Chromium; the services never wait on it."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
import yaml
from starlette.applications import Starlette

from herald.demo import seed_demo
from libs.common.db.engine import make_engine, make_sessionmaker, transaction
from services.acl_mediator.app import create_app as mediator_app
from services.acl_mediator.reference_backend import create_reference_app
from services.acl_mediator.reference_data import HeraldDirectory
from services.acl_mediator.settings import MediatorSettings
from services.ingest.app import create_app as ingest_app
from services.processor.app import create_app as processor_app
from services.processor.settings import ProcessorSettings
from services.sender.app import create_app as sender_app
from services.sender.settings import SenderSettings
from services.websocket.app import Gateway
from services.websocket.settings import WebsocketSettings
from tests.apps import JWT_AUDIENCE, JWT_ISSUER, JWT_SECRET, ingest_settings
from tests.unit.services.acl_mediator.support import CALLER

HOST = "127.0.0.1"
MEDIATOR_KEY = "browser-test-mediator-key-0123"
START_TIMEOUT_S = 60.0
CALL_TIMEOUT_S = 30.0
MODULES = ("tenders", "approvals")

T = TypeVar("T")


def bound_socket() -> socket.socket:
    """A loopback socket on a free port, handed to uvicorn (no bind race)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    return sock


def port_of(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


@dataclass
class Stack:
    database_url: str
    amqp_url: str
    work_dir: Path
    admin: dict[str, Any]  # admin settings for ingest
    full: bool = False  # False: ingest only (the admin tests)
    ingest_url: str = ""
    ws_url: str = ""
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _ready: threading.Event = field(default_factory=threading.Event)
    _stop: asyncio.Event | None = None
    _error: BaseException | None = None
    _gateway: Gateway | None = None
    _ws_server: Any = None
    _ws_settings: Any = None
    _ws_port: int = 0
    _mediator: dict[str, str] = field(default_factory=dict)  # ingest's, once it runs

    def __enter__(self) -> Stack:
        self._thread = threading.Thread(target=self._main, name="herald-stack", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise RuntimeError("the services did not start in time")
        if self._error is not None:
            raise RuntimeError(f"the services failed to start: {self._error!r}") from self._error
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(START_TIMEOUT_S)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the services' loop (seed data, read the database)."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(CALL_TIMEOUT_S)

    def _main(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        await seed(self.database_url)
        servers: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []
        ingest_sock = bound_socket()
        self.ingest_url = f"http://{HOST}:{port_of(ingest_sock)}"
        try:
            if self.full:
                await self._start_backend(servers)
            settings = ingest_settings(
                self.database_url, self.amqp_url, **self.admin, **self._mediator
            )
            await start_http(ingest_app(settings, consume=False), ingest_sock, servers)
            self._ready.set()
            await self._stop.wait()
        finally:
            for server, _task in servers:
                server.should_exit = True
            await asyncio.gather(*(task for _s, task in servers), return_exceptions=True)
            if self._gateway is not None:
                if self._ws_server is not None:
                    self._ws_server.close()
                await self._gateway.close()

    async def _start_backend(
        self, servers: list[tuple[uvicorn.Server, asyncio.Task[None]]]
    ) -> None:
        db, amqp = self.database_url, self.amqp_url
        reference = bound_socket()
        await start_http(create_reference_app(HeraldDirectory(db)), reference, servers)
        modules = self.work_dir / "acl-modules.yaml"
        base = f"http://{HOST}:{port_of(reference)}"
        modules.write_text(yaml.safe_dump({"modules": {m: {"base_url": base} for m in MODULES}}))
        mediator = bound_socket()
        mediator_settings = MediatorSettings(
            api_keys={MEDIATOR_KEY: CALLER}, acl_modules_file=modules
        )
        await start_http(mediator_app(mediator_settings), mediator, servers)
        mediator_url = f"http://{HOST}:{port_of(mediator)}"
        self._mediator = {"mediator_url": mediator_url, "mediator_api_key": MEDIATOR_KEY}
        processor = ProcessorSettings(
            database_url=db,
            amqp_url=amqp,
            processor_sweep_interval_s=0.5,
            outbox_dir=self.work_dir / "outbox",  # e-mail has a provider
        )
        await start_http(processor_app(processor), bound_socket(), servers)
        sender = SenderSettings(
            database_url=db,
            amqp_url=amqp,
            mediator_url=mediator_url,
            mediator_api_key=MEDIATOR_KEY,
            outbox_dir=self.work_dir / "outbox",
            telegram_polling=False,
        )
        await start_http(sender_app(sender), bound_socket(), servers)
        ws = WebsocketSettings(
            database_url=db, amqp_url=amqp, jwt_secret=JWT_SECRET, jwt_audience=JWT_AUDIENCE,
            jwt_issuer=JWT_ISSUER, mediator_url=mediator_url, mediator_api_key=MEDIATOR_KEY,
            ws_allowed_origins=[self.ingest_url],
        )  # fmt: skip
        self._ws_settings = ws
        gateway = Gateway(ws)
        self._ws_server = await gateway.start(HOST, 0)
        self._ws_port = int(next(iter(self._ws_server.sockets)).getsockname()[1])
        self.ws_url = f"ws://{HOST}:{self._ws_port}/"
        self._gateway = gateway

    def restart_gateway(self, while_down: Coroutine[Any, Any, None]) -> None:
        """Stop the gateway (browsers see 1001 and reconnect), run ``while_down``, start a
        fresh gateway on the same port: what a deploy or a crash looks like to a page."""
        self.run(self._restart_gateway(while_down))

    async def _restart_gateway(self, while_down: Coroutine[Any, Any, None]) -> None:
        assert self._gateway is not None and self._ws_server is not None
        self._ws_server.close()
        await self._ws_server.wait_closed()
        await self._gateway.close()
        await while_down
        self._gateway = Gateway(self._ws_settings)
        self._ws_server = await self._gateway.start(HOST, self._ws_port)


async def start_http(
    app: Starlette, sock: socket.socket, servers: list[tuple[uvicorn.Server, asyncio.Task[None]]]
) -> None:
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    servers.append((server, task))
    while not server.started:
        if task.done():
            task.result()  # raises what stopped it
            raise RuntimeError("server exited during startup")
        await asyncio.sleep(0.02)


async def seed(database_url: str) -> None:
    """The demo people, event types and subscription `herald dev` starts with."""
    engine = make_engine(database_url)
    try:
        async with transaction(make_sessionmaker(engine)) as session:
            await seed_demo(session)
    finally:
        await engine.dispose()
