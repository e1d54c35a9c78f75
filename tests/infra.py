"""Real PostgreSQL and RabbitMQ for tests: a database and a vhost of its own per test."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import uuid
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import asyncpg

TEST_DATABASE_URL = os.environ.get(
    "HERALD_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
TEST_AMQP_URL = os.environ.get("HERALD_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")

HOW_TO_START = """\
Tests need real PostgreSQL and RabbitMQ:
  PostgreSQL at HERALD_TEST_DATABASE_URL (default {db})
  RabbitMQ   at HERALD_TEST_AMQP_URL     (default {amqp})
Start the local ones with:
  pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start
  rabbitmq-server -detached
or point the two variables at servers you have."""


def raw_pg_dsn(url: str, database: str | None = None) -> str:
    """asyncpg DSN from an SQLAlchemy URL, optionally for another database."""
    parts = urlsplit(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    path = f"/{database}" if database else parts.path
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, ""))


async def create_database(name: str, template: str | None = None) -> None:
    conn = await asyncpg.connect(raw_pg_dsn(TEST_DATABASE_URL))
    try:
        clause = f' TEMPLATE "{template}"' if template else ""
        await conn.execute(f'CREATE DATABASE "{name}"{clause}')
    finally:
        await conn.close()


async def drop_database(name: str) -> None:
    conn = await asyncpg.connect(raw_pg_dsn(TEST_DATABASE_URL))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def unique_name(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def _amqp_user() -> str:
    return unquote(urlsplit(TEST_AMQP_URL).username or "guest")


def _rabbitmqctl(*args: str) -> str:
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        raise RuntimeError("rabbitmqctl is needed to create a vhost per test")
    done = subprocess.run([ctl, "-q", *args], check=True, capture_output=True, timeout=60)
    return done.stdout.decode()


async def create_vhost(name: str) -> str:
    """A vhost of its own, so exchanges named herald.* never collide between tests."""
    await asyncio.to_thread(_rabbitmqctl, "add_vhost", name)
    await asyncio.to_thread(
        _rabbitmqctl, "set_permissions", "-p", name, _amqp_user(), ".*", ".*", ".*"
    )
    parts = urlsplit(TEST_AMQP_URL)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(name, safe=""), parts.query, ""))


async def delete_vhost(name: str) -> None:
    await asyncio.to_thread(_rabbitmqctl, "delete_vhost", name)


async def add_broker_user(name: str, password: str) -> None:
    """A RabbitMQ user (users are broker-wide: give them unique names, delete them after)."""
    await asyncio.to_thread(_rabbitmqctl, "add_user", name, password)


async def grant(vhost_url: str, user: str, configure: str, write: str, read: str) -> None:
    """``rabbitmqctl set_permissions`` on the vhost of ``vhost_url`` (regular expressions)."""
    vhost = unquote(urlsplit(vhost_url).path[1:])
    await asyncio.to_thread(
        _rabbitmqctl, "set_permissions", "-p", vhost, user, configure, write, read
    )


async def delete_broker_user(name: str) -> None:
    await asyncio.to_thread(_rabbitmqctl, "delete_user", name)


def as_user(vhost_url: str, user: str, password: str) -> str:
    """The same broker and vhost, logged in as another user."""
    parts = urlsplit(vhost_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


async def queue_counts(amqp_url: str) -> dict[str, tuple[int, int]]:
    """(ready, unacked) per queue of the URL's vhost, as the broker itself counts them (a
    passive declare reports only the ready ones)."""
    vhost = unquote(urlsplit(amqp_url).path[1:]) or "/"
    columns = ("name", "messages_ready", "messages_unacknowledged")
    out = await asyncio.to_thread(
        _rabbitmqctl, "list_queues", "-p", vhost, "--no-table-headers", *columns
    )
    rows = (line.split("\t") for line in out.splitlines() if line.strip())
    return {name: (int(ready), int(unacked)) for name, ready, unacked in rows}
