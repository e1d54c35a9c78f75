"""`herald doctor` (issue 21): a configuration checked without starting anything, run as the
command CI would run, against real PostgreSQL and RabbitMQ, a real mediator and reference
module backend, an SMTP sink and a JWKS server; its exit code says whether anything is wrong.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

from services.acl_mediator.app import create_app as mediator_app
from services.acl_mediator.settings import MediatorSettings
from tests.apps import JWT_AUDIENCE, JWT_ISSUER
from tests.integration.services.sender.support import SmtpSink
from tests.unit.security.jwks_server import json_server, key_server
from tests.unit.services.acl_mediator.support import (
    CALLER,
    KEY,
    closed_port_url,
    modules_file,
    reference_app,
    serve,
)

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "doctor-reference-token-0123"
TIMEOUT = "2"


async def doctor(env: dict[str, str], cwd: Path, *services: str) -> tuple[int, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "herald", "doctor", *services, "--timeout-s", TIMEOUT,
        env={**keep, **env}, cwd=cwd, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


@asynccontextmanager
async def world(tmp_path: Path, token: str = TOKEN) -> AsyncIterator[dict[str, str]]:
    """A mediator asking a reference backend (which wants ``TOKEN``), an SMTP sink, a JWKS."""
    async with AsyncExitStack() as stack:
        backend = await stack.enter_async_context(serve(reference_app(token=TOKEN)))
        auth = {"name": "Authorization", "value": f"Bearer {token}"}
        modules = modules_file(tmp_path, {"tenders": {"base_url": backend, "auth_header": auth}})
        settings = MediatorSettings(api_keys={KEY: CALLER}, acl_modules_file=modules)
        mediator = await stack.enter_async_context(serve(mediator_app(settings)))
        sink = await SmtpSink().start()
        stack.push_async_callback(sink.stop)
        keys = stack.enter_context(key_server("k1"))
        yield {
            "HERALD_API_KEYS": json.dumps({KEY: CALLER}),
            "HERALD_MEDIATOR_URL": mediator,
            "HERALD_MEDIATOR_API_KEY": KEY,
            "HERALD_ACL_MODULES_FILE": str(modules),
            "HERALD_WS_FEEDS_FILE": str(ROOT / "deploy/config/websocket.yaml"),
            "HERALD_SMTP_HOST": "127.0.0.1",
            "HERALD_SMTP_PORT": str(sink.port),
            "HERALD_JWT_ALGORITHMS": '["RS256"]',
            "HERALD_JWT_JWKS_URL": keys.url,
            "HERALD_JWT_AUDIENCE": JWT_AUDIENCE,
            "HERALD_JWT_ISSUER": JWT_ISSUER,
        }


async def test_a_working_configuration_passes(
    database_url: str, amqp_url: str, tmp_path: Path
) -> None:
    async with world(tmp_path) as env:
        env.update(HERALD_DATABASE_URL=database_url, HERALD_AMQP_URL=amqp_url)
        code, out = await doctor(env, tmp_path)
    assert code == 0, out
    for service in ("ingest", "processor", "sender", "websocket", "acl_mediator"):
        assert f"ok    settings of {service}" in out
    for seen in ("database", "(schema at", "broker", "SMTP 127.0.0.1", "permissions mediator",
                 "module backend tenders", "JWKS", "(1 signing key(s))", "feeds file"):  # fmt: skip
        assert seen in out, out
    assert "FAIL" not in out and out.rstrip().endswith("nothing wrong found")


async def test_a_broken_configuration_says_what_is_wrong_and_how_to_fix_it(
    empty_database: str, tmp_path: Path
) -> None:
    async with world(tmp_path, token="a-stale-token-0123456789") as env:
        with json_server(lambda: (404, b"{}")) as no_keys:
            env.update(
                HERALD_DATABASE_URL=empty_database,  # never migrated
                HERALD_AMQP_URL=closed_port_url().replace("http", "amqp"),
                HERALD_MEDIATOR_API_KEY="not-the-mediator-key-0123",
                HERALD_JWT_JWKS_URL=no_keys,
                HERALD_SMTP_PORT="twenty-five",
            )
            code, out = await doctor(env, tmp_path)
    assert code == 1, out
    expected = [
        ("settings of sender", "HERALD_SMTP_PORT", "set them in the environment"),
        ("database", "not", "run herald migrate"),
        ("broker", "Error", "start RabbitMQ or correct HERALD_AMQP_URL"),
        ("permissions mediator", "refused the key (401)", "HERALD_MEDIATOR_API_KEY must be"),
        ("module backend tenders", "refused the auth header (401)", "correct the module's"),
        ("JWKS", "404", "correct HERALD_JWT_JWKS_URL"),
    ]
    blocks = out.split("  FAIL  ")[1:]
    for what, problem, fix in expected:
        (block,) = [b for b in blocks if b.startswith(what)]
        assert problem in block and f"fix: {fix}" in block, block
    assert len(blocks) == len(expected), out
    assert out.rstrip().endswith(f"{len(expected)} problem(s) found")


async def test_an_unreachable_smtp_server_fails_the_sender(
    database_url: str, amqp_url: str, tmp_path: Path
) -> None:
    async with world(tmp_path) as env:
        env.update(HERALD_DATABASE_URL=database_url, HERALD_AMQP_URL=amqp_url)
        env["HERALD_SMTP_PORT"] = closed_port_url().rsplit(":", 1)[1]
        code, out = await doctor(env, tmp_path, "sender")
    assert code == 1, out
    assert "FAIL  SMTP 127.0.0.1" in out and "fix: correct HERALD_SMTP_HOST" in out
    assert "settings of ingest" not in out  # only the service asked about
