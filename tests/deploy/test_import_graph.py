"""Each service imports only what it runs (DESIGN §12: five idle services in 300 MiB).

In a fresh interpreter, each service is built the way ``herald run <service>`` builds it
(``herald.services.prepare``, its app, what uvicorn loads to serve it), and what lands in
``sys.modules`` must leave out the heavy packages that service never uses. bench/memory
measures what it costs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RUN_PATH = """
import json, sys
import herald.cli  # the command's own imports come first, as for `herald run`
from herald.services import Service, build, prepare, uvicorn_settings
service = Service(sys.argv[1])
served = build(service, prepare(service, "WARNING"))
if service is not Service.websocket:  # what uvicorn loads to serve it (protocols, lifespan)
    import uvicorn
    uvicorn.Config(served, **uvicorn_settings("127.0.0.1", 0)).load()
print(json.dumps(sorted(n for n, m in sys.modules.items() if m is not None)))
"""
# no service uses these: admin UI (when off), Telegram (when unset), tests, migrations, and
# the terminal extras httpx, structlog and httpcore load when they happen to be installed
NOWHERE = {
    "sqladmin", "wtforms", "aiogram", "schemathesis", "hypothesis", "pytest", "selenium",
    "alembic", "mako", "rich", "pygments", "trio", "watchfiles",
}  # fmt: skip
NOT_USED = {
    "acl_mediator": {
        "sqlalchemy", "asyncpg", "aiosqlite", "aio_pika", "aiormq", "jwt", "cryptography",
        "jinja2", "aiosmtplib", "websockets", "httpx",
    },
    "processor": {"fastapi", "jwt", "cryptography", "aiosmtplib", "aiohttp", "websockets", "httpx"},
    "sender": {"fastapi", "jwt", "cryptography", "websockets"},
    "websocket": {"fastapi", "uvicorn", "jinja2", "aiosmtplib", "aiohttp"},
    "ingest": {"aiosmtplib", "aiohttp", "websockets"},
}  # fmt: skip


def service_env(tmp_path: Path) -> dict[str, str]:
    """What compose gives every service, pointed at nothing: building an app connects to
    nothing (DESIGN §11: nothing connects at import time)."""
    modules = tmp_path / "acl-modules.yaml"
    modules.write_text('modules:\n  tenders: {base_url: "http://127.0.0.1:9/tenders"}\n')
    keep = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    return {
        **keep,
        "HERALD_DATABASE_URL": "postgresql+asyncpg://herald@127.0.0.1:9/herald",
        "HERALD_AMQP_URL": "amqp://herald:herald@127.0.0.1:9/",
        "HERALD_API_KEYS": json.dumps(
            {
                "graph-producer-key-0123": "*",
                "graph-mediator-key-0123": {"scopes": ["permissions"], "tenants": ["*"]},
            }
        ),
        "HERALD_JWT_SECRET": "graph-jwt-secret-0123456789abcdef0123",
        "HERALD_JWT_AUDIENCE": "herald",
        "HERALD_JWT_ISSUER": "https://sso.test",
        "HERALD_MEDIATOR_URL": "http://127.0.0.1:9",
        "HERALD_MEDIATOR_API_KEY": "graph-mediator-key-0123",
        "HERALD_ACL_MODULES_FILE": str(modules),
        "HERALD_WS_FEEDS_FILE": str(ROOT / "deploy/config/websocket.yaml"),
        "HERALD_SMTP_HOST": "127.0.0.1",
        "HERALD_EMAIL_FROM": "herald@example.com",
    }


def imported_by(service: str, env: dict[str, str]) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", RUN_PATH, service],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    return {name.split(".")[0] for name in json.loads(out.stdout.splitlines()[-1])}


@pytest.mark.parametrize("service", sorted(NOT_USED))
def test_a_service_imports_only_what_it_runs(service: str, tmp_path: Path) -> None:
    loaded = imported_by(service, service_env(tmp_path))
    assert (NOWHERE | NOT_USED[service]) & loaded == set()
    assert "pydantic" in loaded  # the probe saw the service's real graph
