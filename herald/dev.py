"""``herald dev``: the whole system in one process on the embedded default (DESIGN §2)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
from pathlib import Path
from typing import Any

import uvicorn

from herald.emit import DEV_API_KEY, DEV_DIRECTORY_KEY, DEV_KEYS, DEV_SERVICES_KEY
from herald.services import Service, build_asgi, load_settings
from libs.common.web.header_limit import uvicorn_options
from services.acl_mediator.dev import write_dev_modules_file
from services.ingest.admin.devlogin import DEV_ADMIN_USER, dev_admin_environment, dev_admin_password


class _Embedded(uvicorn.Server):
    """Several servers share one loop; `herald dev` handles Ctrl-C itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        yield


def dev_environment(data_dir: Path) -> dict[str, str]:
    """Development defaults; anything already set in the environment wins."""
    data_dir.mkdir(parents=True, exist_ok=True)
    secret_file = data_dir / "jwt-secret"
    if not secret_file.exists():
        secret_file.write_text(secrets.token_urlsafe(48))
    return {
        "HERALD_DATABASE_URL": f"sqlite+aiosqlite:///{(data_dir / 'herald.db').resolve()}",
        "HERALD_AMQP_URL": "memory://",
        "HERALD_API_KEYS": json.dumps(DEV_KEYS),
        "HERALD_JWT_SECRET": secret_file.read_text().strip(),
        "HERALD_JWT_AUDIENCE": "herald",
        "HERALD_JWT_ISSUER": "herald-dev",
        "HERALD_OUTBOX_DIR": str((data_dir / "outbox").resolve()),
        "HERALD_MEDIATOR_URL": "http://127.0.0.1:8002",
        "HERALD_MEDIATOR_API_KEY": DEV_SERVICES_KEY,
        "HERALD_ACL_MODULES_FILE": str(write_dev_modules_file(data_dir)),
        "HERALD_WS_ALLOWED_ORIGINS": '["http://127.0.0.1:8000", "http://localhost:8000"]',
        **_dev_feeds(),
        **dev_admin_environment(data_dir),
    }


def _dev_feeds() -> dict[str, str]:
    """The example entity feeds (deploy/config/websocket.yaml) when run from a checkout."""
    feeds = Path(__file__).resolve().parents[1] / "deploy" / "config" / "websocket.yaml"
    return {"HERALD_WS_FEEDS_FILE": str(feeds)} if feeds.exists() else {}


async def prepare(url: str) -> None:
    from herald.demo import seed_demo
    from libs.common.catalog.defaults import seed_defaults
    from libs.common.db.engine import make_engine, make_sessionmaker, transaction
    from libs.common.db.migrate import upgrade_async

    await upgrade_async(url)
    engine = make_engine(url)
    try:
        async with transaction(make_sessionmaker(engine)) as session:
            await seed_defaults(session)
            await seed_demo(session)
    finally:
        await engine.dispose()


async def run_dev(data_dir: Path, host: str) -> None:
    from libs.common.runtime.logging import configure_logging

    for key, value in dev_environment(data_dir).items():
        os.environ.setdefault(key, value)
    configure_logging("INFO", json=False)
    await prepare(os.environ["HERALD_DATABASE_URL"])

    servers = []
    for service in (Service.acl_mediator, Service.ingest, Service.processor, Service.sender):
        app = build_asgi(service, load_settings(service))
        config = uvicorn.Config(
            app,
            host=host,
            port=service.default_port,
            log_config=None,
            access_log=False,
            lifespan="on",
            **uvicorn_options(),
        )
        servers.append(_Embedded(config))
    servers.append(_Embedded(_reference_backend_config()))
    from services.websocket.app import run as run_gateway

    tasks = [asyncio.create_task(s.serve()) for s in servers]
    tasks.append(
        asyncio.create_task(
            run_gateway(load_settings(Service.websocket), host, Service.websocket.default_port)
        )
    )
    _banner(host, data_dir)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for server in servers:
        server.should_exit = True
    tasks[-1].cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _reference_backend_config() -> uvicorn.Config:
    """The reference permissions backend the dev mediator asks (services/acl_mediator/dev.py)."""
    from services.acl_mediator.dev import REFERENCE_DEV_HOST, REFERENCE_DEV_PORT, dev_reference_app

    app = dev_reference_app(os.environ["HERALD_DATABASE_URL"])
    return uvicorn.Config(
        app,
        host=REFERENCE_DEV_HOST,
        port=REFERENCE_DEV_PORT,
        log_config=None,
        access_log=False,
        lifespan="on",
        **uvicorn_options(),
    )


def _banner(host: str, data_dir: Path) -> None:
    from libs.common.security.auth import JwtSettings, issue_token

    token = issue_token(JwtSettings(), "u-17", "default", ttl_s=7 * 24 * 3600)
    admin_password = dev_admin_password(data_dir)
    print(
        f"""
Herald dev is running (SQLite + in-memory bus, demo data).
  ingest + user API   http://{host}:8000   (OpenAPI: http://{host}:8000/docs)
  websocket gateway   ws://{host}:8001
  permissions         http://{host}:8002
  processor health    http://{host}:8003/healthz
  sender health       http://{host}:8004/healthz
  reference module    http://127.0.0.1:8005   (permissions backend the mediator asks)
  e-mail outbox       {(data_dir / "outbox").resolve()}
  producer API key    {DEV_API_KEY}   (events of tenders, approvals in tenant default)
  directory API key   {DEV_DIRECTORY_KEY}   (PUT /v1/recipients/<user>)
  token for user u-17 {token}
  admin UI            http://{host}:8000/admin   login {DEV_ADMIN_USER} / {admin_password}
  live inbox page     http://{host}:8000/inbox/#token={token}   (inbox + settings)
  UI components       http://{host}:8000/ui/herald.js   (<herald-inbox>, <herald-preferences>)

Try it:  herald emit        (sends a sample tender event; an e-mail appears in the outbox)
Stop:    Ctrl-C
""",
        flush=True,
    )
