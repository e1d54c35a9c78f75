"""Real local HTTP servers (port 0, loopback) standing in for module backends, and a mediator
wired to them."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import uvicorn
import yaml
from fastapi import FastAPI, Request, Response

from services.acl_mediator.app import create_app
from services.acl_mediator.reference_backend import create_reference_app
from services.acl_mediator.reference_data import StaticDirectory
from services.acl_mediator.settings import MediatorSettings
from tests.apps import running

KEY = "mediator-test-key-0123456789"
HEADERS = {"X-API-Key": KEY}
CALLER = {"name": "sender", "scopes": ["permissions"], "tenants": ["*"]}  # DESIGN §3.1

# the seed's people: u-3 manages u-7, u-17 and u-21; u-1 manages u-3
DIRECTORY = {
    "tenants": {
        "default": {
            "managers": {"u-7": "u-3", "u-17": "u-3", "u-21": "u-3", "u-3": "u-1"},
            "objects": [
                {
                    "module": "tenders",
                    "object_type": "tender",
                    "object_id": "T-1",
                    "owners": ["u-17"],
                },
                {
                    "module": "tenders",
                    "object_type": "tender",
                    "object_id": "T-3",
                    "owners": ["u-3"],
                },
                {
                    "module": "approvals",
                    "object_type": "approval",
                    "object_id": "A-1",
                    "owners": ["u-21"],
                },
            ],
        },
        "acme": {"managers": {}, "objects": []},
    }
}


def reference_app(token: str | None = None) -> FastAPI:
    return create_reference_app(StaticDirectory(DIRECTORY), token=token)


@asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """A real uvicorn server on 127.0.0.1:<ephemeral>; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


def closed_port_url() -> str:
    """An address where nothing listens (bound then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def modules_file(tmp_path: Path, modules: Mapping[str, Mapping[str, Any]]) -> Path:
    path = tmp_path / "acl-modules.yaml"
    path.write_text(yaml.safe_dump({"modules": dict(modules)}), encoding="utf-8")
    return path


@asynccontextmanager
async def mediator(
    tmp_path: Path,
    modules: Mapping[str, Mapping[str, Any]],
    urls: list[str] | None = None,
    **settings: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """The mediator in-process; ``urls``, when given, receives every URL it asks upstream."""
    settings = {"api_keys": {KEY: CALLER}, **settings}
    config = MediatorSettings(acl_modules_file=modules_file(tmp_path, modules), **settings)
    app = create_app(config, trace_configs=[] if urls is None else [url_log(urls)])
    async with running(app) as client:
        client.headers.update(HEADERS)
        yield client


def item(
    object_id: str, user_id: str, module: str = "tenders", object_type: str = "tender"
) -> dict[str, Any]:
    return {
        "module": module,
        "project_id": "P-42",
        "object_type": object_type,
        "object_id": object_id,
        "user_id": user_id,
    }


async def check(
    client: httpx.AsyncClient, items: list[dict[str, Any]], tenant: str = "default"
) -> list[dict[str, Any]]:
    resp = await client.post("/v1/permissions/check", json={"tenant": tenant, "items": items})
    assert resp.status_code == 200, resp.text
    results: list[dict[str, Any]] = resp.json()["results"]
    assert len(results) == len(items)
    return results


def url_log(urls: list[str]) -> aiohttp.TraceConfig:
    """aiohttp's own request hook: every request the mediator starts, whatever its address."""

    async def started(
        _session: aiohttp.ClientSession, _ctx: Any, params: aiohttp.TraceRequestStartParams
    ) -> None:
        urls.append(str(params.url))

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(started)
    return trace


def recording_app(hits: list[str], grant: bool) -> FastAPI:
    """Answers anything at any path (so a request that should not happen would succeed), and
    records the paths asked."""
    app = FastAPI()

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT"])
    async def anything(request: Request) -> Response:
        hits.append(request.url.path)
        body = await request.body()
        ids = [it["id"] for it in json.loads(body)["items"]] if body else []
        answers = [{"id": i, "read": grant, "write": grant} for i in ids]
        return Response(json.dumps({"results": answers}), media_type="application/json")

    return app
