"""Servers for bench/acl, each run in its own process: ``python -m bench.acl_servers <role>``.

Each binds 127.0.0.1 on an ephemeral port, prints the port on its first stdout line, and serves
until terminated. Roles: ``constant`` (uvicorn + FastAPI answering any batch with a constant),
``backends`` (three module backends under /m0, /m1, /m2 answering after 5 ms), and
``mediator <modules.yaml>`` (the real mediator app, as `herald run acl_mediator` builds it).
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response

BATCH = 100
BACKEND_DELAY_S = 0.005
MODULES = ("m0", "m1", "m2")
API_KEY = "bench-acl-key-0123456789"
WARM_ANSWER = (
    b'{"results":[' + b",".join([b'{"read":true,"write":false,"error":null}'] * BATCH) + b"]}"
)


def constant_app() -> FastAPI:
    app = FastAPI()

    @app.post("/v1/permissions/check")
    async def constant(request: Request) -> Response:
        await request.body()  # receive the same batch, then answer without looking at it
        return Response(WARM_ANSWER, media_type="application/json")

    return app


def backends_app() -> FastAPI:
    app = FastAPI()

    async def answer(request: Request) -> Response:
        body = json.loads(await request.body())
        await asyncio.sleep(BACKEND_DELAY_S)
        results = [{"id": it["id"], "read": True, "write": False} for it in body["items"]]
        return Response(json.dumps({"results": results}), media_type="application/json")

    for name in MODULES:
        app.add_api_route(f"/{name}/permissions/check", answer, methods=["POST"])
    return app


def mediator_app(modules_file: str) -> Any:
    from pathlib import Path

    from services.acl_mediator.app import create_app
    from services.acl_mediator.settings import MediatorSettings

    settings = MediatorSettings(
        api_keys={API_KEY: {"scopes": ["permissions"], "tenants": ["*"]}},
        acl_modules_file=Path(modules_file),
    )
    return create_app(settings)


def main() -> None:
    role = sys.argv[1]
    if role == "constant":
        app: Any = constant_app()
    elif role == "backends":
        app = backends_app()
    else:
        app = mediator_app(sys.argv[2])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    config = uvicorn.Config(
        app, loop="uvloop", http="httptools", log_level="warning", access_log=False
    )
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
