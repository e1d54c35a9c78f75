"""``/metrics`` of the public services: on a separate port (HERALD_METRICS_PORT) it leaves the
public app, and with HERALD_METRICS_TOKEN it answers only a bearer of the token — on the
ingest app, the websocket gateway (real server on port 0), and wired the same way into every
FastAPI service. Without either setting it stays as it was
(tests/integration/services/*/test_app.py)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from herald.services import Service, build_asgi
from libs.common.runtime.metrics import METRICS_CONTENT_TYPE
from services.acl_mediator.settings import MediatorSettings
from services.processor.settings import ProcessorSettings
from services.sender.settings import SenderSettings
from tests.apps import API_KEY, ingest_settings
from tests.integration.services.ingest.user_api_data import user_api_app
from tests.integration.services.websocket.harness import gateway

TOKEN = "metrics-token-0123456789abcdef"
WRONG = {
    "no header": {},
    "wrong token": {"Authorization": "Bearer metrics-token-0123456789abcdeX"},
    "prefix of the token": {"Authorization": f"Bearer {TOKEN[:-1]}"},
    "not a bearer": {"Authorization": f"Basic {TOKEN}"},
    "token alone": {"Authorization": TOKEN},
}
RIGHT = {"Authorization": f"Bearer {TOKEN}"}


async def _scrape(port: int, headers: dict[str, str] | None = None) -> httpx.Response:
    async with httpx.AsyncClient(trust_env=False) as http:
        return await http.get(f"http://127.0.0.1:{port}/metrics", headers=headers or {})


async def test_ingest_metrics_on_their_own_port_leave_the_public_app(database_url: str) -> None:
    async with user_api_app(database_url, metrics_port=0, metrics_host="127.0.0.1") as (app, http):
        assert (await http.get("/metrics")).status_code == 404
        port = app.state.metrics_listener.port
        scraped = await _scrape(port)
        assert scraped.status_code == 200 and "herald_ingest_" in scraped.text
        assert scraped.headers["content-type"] == METRICS_CONTENT_TYPE
        async with httpx.AsyncClient(trust_env=False) as raw:  # the listener serves nothing else
            assert (await raw.get(f"http://127.0.0.1:{port}/v1/inbox")).status_code == 404


async def test_ingest_metrics_need_the_token(database_url: str) -> None:
    async with user_api_app(database_url, metrics_token=TOKEN) as (_app, http):
        for name, headers in WRONG.items():
            resp = await http.get("/metrics", headers=headers)
            assert resp.status_code == 401, name
            assert resp.headers["www-authenticate"] == "Bearer", name
            assert "herald_" not in resp.text, name
        assert (await http.get("/metrics", headers=RIGHT)).status_code == 200
    settings: dict[str, Any] = {
        "metrics_token": TOKEN,
        "metrics_port": 0,
        "metrics_host": "127.0.0.1",
    }
    async with user_api_app(database_url, **settings) as (app, _http):
        port = app.state.metrics_listener.port
        assert [(await _scrape(port, h)).status_code for h in WRONG.values()] == [401] * len(WRONG)
        assert (await _scrape(port, RIGHT)).status_code == 200


async def test_gateway_metrics_on_their_own_port_and_behind_the_token(database_url: str) -> None:
    bus = f"memory://{uuid.uuid4().hex}"
    async with gateway(database_url, bus, metrics_port=0, metrics_host="127.0.0.1") as gw:
        public = gw.url.replace("ws://", "http://")
        async with httpx.AsyncClient(trust_env=False) as http:
            assert (await http.get(f"{public}/metrics")).status_code == 404
            assert (await http.get(f"{public}/healthz")).status_code == 200
        assert gw.gateway.metrics_listener.port is not None
        scraped = await _scrape(gw.gateway.metrics_listener.port)
        assert scraped.status_code == 200 and "herald_ws_connections" in scraped.text
    async with gateway(database_url, bus, metrics_token=TOKEN) as gw:
        public = gw.url.replace("ws://", "http://")
        async with httpx.AsyncClient(trust_env=False) as http:
            for name, headers in WRONG.items():
                resp = await http.get(f"{public}/metrics", headers=headers)
                assert resp.status_code == 401, name
            assert (await http.get(f"{public}/metrics", headers=RIGHT)).status_code == 200


def _settings(service: Service, database_url: str) -> Any:
    common: dict[str, Any] = {"metrics_port": 9464}
    db = {"database_url": database_url, "amqp_url": "memory://metrics", **common}
    mediator: dict[str, Any] = {"mediator_url": "http://127.0.0.1:1", "mediator_api_key": API_KEY}
    if service is Service.ingest:
        return ingest_settings(database_url, "memory://metrics", **common)
    if service is Service.processor:
        return ProcessorSettings(**db)
    if service is Service.sender:
        return SenderSettings(**db, **mediator)
    return MediatorSettings(api_keys={API_KEY: "*"}, **common)


@pytest.mark.parametrize(
    "service", [Service.ingest, Service.processor, Service.sender, Service.acl_mediator]
)
async def test_every_fastapi_service_drops_metrics_from_its_app_with_a_metrics_port(
    database_url: str, service: Service
) -> None:
    """The routes only (no lifespan: nothing listens on 9464 here)."""
    app = build_asgi(service, _settings(service, database_url))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://herald.test") as http:
        assert (await http.get("/healthz")).status_code == 200
        assert (await http.get("/metrics")).status_code == 404
