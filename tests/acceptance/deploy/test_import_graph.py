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
from time import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

ROOT = Path(__file__).resolve().parents[3]
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
    # HS256 user tokens (service_env): PyJWT without cryptography
    # (libs/common/runtime/lean_imports.py)
    "websocket": {"fastapi", "uvicorn", "jinja2", "aiosmtplib", "aiohttp", "cryptography"},
    "ingest": {"aiosmtplib", "aiohttp", "websockets", "cryptography"},
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


def imported_by(service: str, env: dict[str, str], probe: str = RUN_PATH) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", probe, service],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    return {name.split(".")[0] for name in json.loads(out.stdout.splitlines()[-1])}


@pytest.mark.parametrize("service", sorted(NOT_USED))
def test_a_service_imports_only_what_it_runs(service: str, tmp_path: Path) -> None:
    loaded = imported_by(service, service_env(tmp_path))
    assert (NOWHERE | NOT_USED[service]) & loaded == set()
    assert "pydantic" in loaded  # the probe saw the service's real graph


# a spawned gateway worker (`herald run websocket --workers N`) as multiprocessing starts one
WORKER_PATH = """
import json, sys
import services.websocket.workers as workers
workers.run_loop = lambda main: main.close()  # built, not served
workers._worker("127.0.0.1", 0, "WARNING", 0)
import services.websocket.app  # what the worker's _serve imports to run the gateway
print(json.dumps(sorted(n for n, m in sys.modules.items() if m is not None)))
"""


def test_a_gateway_worker_imports_only_what_it_runs(tmp_path: Path) -> None:
    loaded = imported_by("websocket", service_env(tmp_path), WORKER_PATH)
    assert (NOWHERE | NOT_USED["websocket"]) & loaded == set()
    assert "jwt" in loaded


TOKEN_PROBE = """
import asyncio, sys
from herald.services import Service, build, prepare
service = Service(sys.argv[1])
settings = prepare(service, "WARNING")
build(service, settings)
import jwt
from libs.common.security.auth import TokenVerifier
principal = asyncio.run(TokenVerifier(settings).averify(sys.argv[2]))
print(jwt.algorithms.has_crypto, principal.user_id)
"""


def token(key: str, algorithm: str) -> str:
    claims = {"sub": "u-7", "aud": "herald", "iss": "https://sso.test", "exp": time() + 600}
    return jwt.encode(claims, key, algorithm=algorithm)


def verified_by(service: str, env: dict[str, str], user_token: str) -> list[str]:
    """Build the service as herald run does, then verify a user token with its settings."""
    out = subprocess.run(
        [sys.executable, "-c", TOKEN_PROBE, service, user_token],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.split()[-2:]


@pytest.mark.parametrize("service", ["ingest", "websocket"])
def test_tokens_verify_with_and_without_cryptography(service: str, tmp_path: Path) -> None:
    """HMAC-only settings refuse cryptography and still verify; public-key ones keep it."""
    env = service_env(tmp_path)
    assert verified_by(service, env, token(env["HERALD_JWT_SECRET"], "HS256")) == ["False", "u-7"]
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    del env["HERALD_JWT_SECRET"]
    env |= {"HERALD_JWT_ALGORITHMS": '["RS256"]', "HERALD_JWT_PUBLIC_KEY": public.decode()}
    assert verified_by(service, env, token(pem, "RS256")) == ["True", "u-7"]


LISTENER_PATH = """
import asyncio, json, sys
import httpx
from libs.common.runtime.metrics import MetricsListener, MetricsSettings

async def scrape() -> int:
    listener = MetricsListener(MetricsSettings(metrics_port=0, metrics_host="127.0.0.1"))
    await listener.start()
    try:
        async with httpx.AsyncClient() as http:
            return (await http.get(f"http://127.0.0.1:{listener.port}/metrics")).status_code
    finally:
        await listener.close()

assert asyncio.run(scrape()) == 200  # a real scrape went through it
print(json.dumps(sorted(n for n, m in sys.modules.items() if m is not None)))
"""


def test_the_separate_metrics_listener_loads_no_web_framework(tmp_path: Path) -> None:
    """HERALD_METRICS_PORT (compose, Kubernetes) served by asyncio streams: aiohttp's server
    cost about 7 MiB in every service that set it."""
    loaded = imported_by("processor", service_env(tmp_path), LISTENER_PATH)
    assert {"aiohttp", "fastapi", "starlette", "uvicorn"} & loaded == set()
