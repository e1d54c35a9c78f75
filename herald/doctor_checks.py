"""The probes of ``herald doctor``: each looks at one dependency the way the service will, and
says what is wrong and how to fix it. Nothing is started, declared, sent or written: a
connection is opened and closed, a permission question is asked about an object that does
not exist, the SMTP server is greeted and left before any mail."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

PROBE_USER = "herald-doctor"  # the user and object of the permission questions asked


@dataclass(frozen=True)
class Finding:
    what: str
    problem: str | None = None  # None: fine
    fix: str = ""


def where(url: str) -> str:
    """A URL without its credentials: what the report may print."""
    parts = urlsplit(url)
    host = f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)
    return f"{parts.scheme}://{host}{parts.path}"


def failed(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")


async def database(url: str) -> Finding:
    """Reachable, and the schema at the migrations' head."""
    from sqlalchemy import text

    from libs.common.db.engine import make_engine

    what = f"database {where(url)}"
    engine = make_engine(url, 1)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            current = await _revision(conn)
    except Exception as exc:
        return Finding(what, failed(exc), "start the database or correct HERALD_DATABASE_URL")
    finally:
        await engine.dispose()
    head = _head_revision()
    if current != head:
        return Finding(what, f"schema at {current or 'nothing'}, not {head}", "run herald migrate")
    return Finding(f"{what} (schema at {head})")


async def _revision(conn: Any) -> str | None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    try:
        async with conn.begin_nested():
            found = await conn.execute(text("SELECT version_num FROM alembic_version"))
            revision = found.scalar()
            return None if revision is None else str(revision)
    except DBAPIError:  # no alembic_version table: never migrated
        return None


def _head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    from libs.common.db.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config("")).get_current_head()


async def broker(url: str, timeout_s: float) -> Finding:
    if url.startswith("memory://"):
        return Finding("broker: in-process (memory://), one process only")
    import aio_pika

    what = f"broker {where(url)}"
    try:
        connection = await aio_pika.connect(url, timeout=timeout_s)
        await connection.close()
    except Exception as exc:
        fix = "start RabbitMQ or correct HERALD_AMQP_URL (user, password, vhost)"
        return Finding(what, failed(exc), fix)
    return Finding(what)


async def smtp(settings: Any) -> Finding:
    """Greeted (EHLO), STARTTLS and login as configured, then QUIT: no mail."""
    import aiosmtplib

    what = f"SMTP {settings.smtp_host}:{settings.smtp_port}"
    client = aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password,
        start_tls=settings.smtp_starttls,
        cert_bundle=str(settings.smtp_ca_file) if settings.smtp_ca_file else None,
        timeout=settings.smtp_timeout_s,
    )
    try:
        await client.connect()
        await client.quit()
    except Exception as exc:
        fix = (
            "correct HERALD_SMTP_HOST, _PORT, _STARTTLS, _USERNAME, _PASSWORD "
            "(or HERALD_SMTP_CA_FILE for a private CA)"
        )
        return Finding(what, failed(exc), fix)
    return Finding(what)


async def mediator(url: str, api_key: str, timeout_s: float) -> Finding:
    """One question about an object of no module: a 200 proves the address and the key."""
    import httpx

    what = f"permissions mediator {where(url)}"
    probe = {"module": PROBE_USER, "object_type": "probe", "object_id": "probe"}
    body = {"items": [{**probe, "user_id": PROBE_USER}]}
    try:
        async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=False) as http:
            answer = await http.post(
                f"{url.rstrip('/')}/v1/permissions/check",
                json=body,
                headers={"X-API-Key": api_key},
            )
    except httpx.HTTPError as exc:
        return Finding(what, failed(exc), "start the mediator or correct HERALD_MEDIATOR_URL")
    if answer.status_code in (401, 403):
        fix = (
            "HERALD_MEDIATOR_API_KEY must be a key of the mediator's HERALD_API_KEYS with the "
            "permissions scope"
        )
        return Finding(what, f"refused the key ({answer.status_code})", fix)
    if answer.status_code != 200:
        return Finding(what, f"answered {answer.status_code}", "check the mediator's log")
    return Finding(what)


async def module_backend(name: str, config: Any, timeout_s: float) -> Finding:
    """The mediator's own question format, about an object that does not exist."""
    import httpx

    from libs.common.schemas.permissions import UPSTREAM_CHECK_PATH

    what = f"module backend {name} at {config.base_url}"
    item = {"id": 0, "object_type": "probe", "object_id": "probe", "user_id": PROBE_USER}
    body = {"tenant": "default", "module": name, "items": [item]}
    try:
        async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=False) as http:
            answer = await http.post(
                config.base_url + UPSTREAM_CHECK_PATH, json=body, headers=config.headers()
            )
    except httpx.HTTPError as exc:
        fix = "start it or correct its base_url in HERALD_ACL_MODULES_FILE (until then: denied)"
        return Finding(what, failed(exc), fix)
    if answer.status_code in (401, 403):
        fix = "correct the module's auth_header (the variable its value_env names)"
        return Finding(what, f"refused the auth header ({answer.status_code})", fix)
    if answer.status_code != 200:
        fix = "the backend must answer the contract of docs/permissions.md"
        return Finding(what, f"answered {answer.status_code}", fix)
    return Finding(what)


async def jwks(url: str, timeout_s: float) -> Finding:
    import httpx

    from libs.common.security.jwks import KeySetUnavailable, parse_key_set

    what = f"JWKS {url}"
    try:
        async with httpx.AsyncClient(timeout=timeout_s, follow_redirects=False) as http:
            answer = await http.get(url)
        answer.raise_for_status()
        keys = parse_key_set(answer.content)
    except (httpx.HTTPError, KeySetUnavailable) as exc:
        fix = "correct HERALD_JWT_JWKS_URL: the issuer's public signing keys (docs/security.md)"
        return Finding(what, failed(exc), fix)
    return Finding(f"{what} ({len(keys)} signing key(s))")


def feeds(path: Path | None) -> Finding:
    from services.websocket.feeds import FeedsConfigError, load_feeds

    what = f"feeds file {path}"
    try:
        loaded = load_feeds(path)
    except FeedsConfigError as exc:
        return Finding(what, str(exc), "correct HERALD_WS_FEEDS_FILE (docs/websocket-protocol.md)")
    return Finding(f"{what} ({len(loaded.feeds)} feed(s))")


def writable(path: Path) -> Finding:
    what = f"outbox folder {path}"
    if not path.is_dir():
        return Finding(what, "does not exist", "create it or correct HERALD_OUTBOX_DIR")
    if not os.access(path, os.W_OK | os.X_OK):
        return Finding(what, "not writable", "let the service's user write there")
    return Finding(what)
