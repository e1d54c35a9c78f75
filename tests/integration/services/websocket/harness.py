"""A real gateway on port 0, a real permissions endpoint on port 0, real RabbitMQ."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Header, HTTPException
from websockets.asyncio.client import ClientConnection, connect

from libs.common.bus import make_bus
from libs.common.bus.base import Bus
from libs.common.bus.topology import ACCEPTED_EXCHANGE, BROWSER_EXCHANGE
from libs.common.schemas.accepted import AcceptedEvent, AcceptedEvents
from libs.common.schemas.permissions import CheckRequest, CheckResponse, PermissionAnswer
from services.websocket.app import Gateway
from services.websocket.settings import WebsocketSettings
from tests.apps import JWT_AUDIENCE, JWT_ISSUER, JWT_SECRET

MEDIATOR_KEY = "test-mediator-key-0123456789"
ORIGIN = "https://app.herald.test"
FEEDS = Path(__file__).parent / "feeds.yaml"


@dataclass
class Permissions:
    """The test decides who may read what; every batch the gateway sends is recorded."""

    readable: set[tuple[str, str]] = field(default_factory=set)  # (user, object id)
    calls: list[CheckRequest] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/permissions/check")
        async def check(body: CheckRequest, x_api_key: str = Header()) -> CheckResponse:
            if x_api_key != MEDIATOR_KEY:
                raise HTTPException(401)
            self.calls.append(body)
            return CheckResponse(
                results=[
                    PermissionAnswer(read=(i.user_id, i.object_id) in self.readable)
                    for i in body.items
                ]
            )

        return app


@asynccontextmanager
async def http_server(app: FastAPI) -> AsyncIterator[str]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def ws_settings(database_url: str, amqp_url: str, mediator_url: str, **over: Any) -> Any:
    values: dict[str, Any] = {
        "database_url": database_url,
        "amqp_url": amqp_url,
        "jwt_secret": JWT_SECRET,
        "jwt_audience": JWT_AUDIENCE,
        "jwt_issuer": JWT_ISSUER,
        "mediator_url": mediator_url,
        "mediator_api_key": MEDIATOR_KEY,
        "ws_feeds_file": FEEDS,
        "ws_allowed_origins": [ORIGIN],
        **over,
    }
    return WebsocketSettings(**values)


@dataclass
class Running:
    gateway: Gateway
    url: str
    permissions: Permissions
    bus: Bus

    def connect(self, token: str | None = None, **kw: Any) -> Any:
        url = self.url + (f"/?token={token}" if token else "/")
        kw.setdefault("origin", ORIGIN)
        return connect(url, compression=None, open_timeout=10, **kw)

    async def event(self, routing_key: str, body: dict[str, Any]) -> str:
        """As ingest publishes an event it stored (services/ingest/accepted.py); its id."""
        event = AcceptedEvent(
            event_id=str(uuid.uuid4()), tenant=body["tenant"], at=datetime.now(UTC), body=body
        )
        message = AcceptedEvents(events=[event]).model_dump_json().encode()
        await self.bus.publish(ACCEPTED_EXCHANGE, routing_key, message)
        return event.event_id

    async def push(self, body: dict[str, Any]) -> None:
        await self.bus.publish(BROWSER_EXCHANGE, "", json.dumps(body).encode())


@asynccontextmanager
async def gateway(database_url: str, amqp_url: str, **over: Any) -> AsyncIterator[Running]:
    permissions = Permissions()
    async with http_server(permissions.app()) as mediator_url:
        settings = ws_settings(database_url, amqp_url, mediator_url, **over)
        gw = Gateway(settings)
        server = await gw.start("127.0.0.1", 0)
        bus = make_bus(amqp_url)
        await bus.connect()
        port = server.sockets[0].getsockname()[1]
        try:
            yield Running(gw, f"ws://127.0.0.1:{port}", permissions, bus)
        finally:
            await bus.close()
            server.close()
            await server.wait_closed()
            await gw.close()


async def recv_json(conn: ClientConnection, timeout_s: float = 10.0) -> dict[str, Any]:
    data = await asyncio.wait_for(conn.recv(), timeout_s)
    assert isinstance(data, str), "every frame is a text frame"
    value: dict[str, Any] = json.loads(data)
    return value


async def command(conn: ClientConnection, body: dict[str, Any]) -> dict[str, Any]:
    await conn.send(json.dumps(body))
    return await recv_json(conn)


async def subscribe(conn: ClientConnection, feed: str, **params: str) -> dict[str, Any]:
    body = {"type": "subscribe", "id": uuid.uuid4().hex[:8], "feed": feed, "params": params}
    return await command(conn, body)


def envelope(entity_id: str, **payload: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "source": "tenders",
        "type": "tender.updated",
        "tenant": "default",
        "project_id": "P-42",
        "entity": {"type": "tender", "id": entity_id, "attributes": {"status": "open"}},
        "actor": {"id": "u-7"},
        "occurred_at": "2026-11-26T10:00:00Z",
        "payload": payload,
    }
