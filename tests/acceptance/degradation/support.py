"""Helpers for the degradation tests: take RabbitMQ away from one vhost and give it back,
a mediator that allows everything, counting rows."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import unquote, urlsplit

from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import Delivery
from libs.common.schemas.permissions import CheckRequest, CheckResponse, PermissionAnswer
from tests.infra import TEST_AMQP_URL

RABBITMQCTL_TIMEOUT_S = 60


def vhost_of(amqp_url: str) -> str:
    return unquote(urlsplit(amqp_url).path.lstrip("/"))


def _ctl(*args: str) -> str:
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        raise RuntimeError("rabbitmqctl is needed to cut a vhost's connections")
    done = subprocess.run(
        [ctl, "-q", *args], check=True, capture_output=True, timeout=RABBITMQCTL_TIMEOUT_S
    )
    return done.stdout.decode()


async def ctl(*args: str) -> str:
    return await asyncio.to_thread(_ctl, *args)


def _user() -> str:
    return unquote(urlsplit(TEST_AMQP_URL).username or "guest")


async def drop_connections(amqp_url: str) -> None:
    """The broker closes every connection of this vhost (as a broker restart would)."""
    await ctl("close_all_connections", "-p", vhost_of(amqp_url), "degradation test")


async def connections(amqp_url: str) -> int:
    """Open client connections to this vhost."""
    out = await ctl("list_connections", "vhost")
    return sum(1 for line in out.splitlines() if line.strip() == vhost_of(amqp_url))


async def consumers_on(amqp_url: str, prefix: str) -> int:
    """Consumers on the queues of this vhost whose name starts with ``prefix``."""
    out = await ctl("list_queues", "-p", vhost_of(amqp_url), "name", "consumers")
    rows = (line.split("\t") for line in out.splitlines())
    return sum(int(row[1]) for row in rows if len(row) == 2 and row[0].startswith(prefix))


@asynccontextmanager
async def broker_down(amqp_url: str) -> AsyncIterator[None]:
    """RabbitMQ unavailable for this vhost until the block ends: connections are closed and
    reconnects are refused (the user's permissions are withdrawn), then given back."""
    vhost = vhost_of(amqp_url)
    await ctl("clear_permissions", "-p", vhost, _user())
    try:
        await drop_connections(amqp_url)
        yield
    finally:
        await ctl("set_permissions", "-p", vhost, _user(), ".*", ".*", ".*")


def allow_all_mediator() -> FastAPI:
    """The mediator's contract, answering "may read" to everything."""
    app = FastAPI()

    @app.post("/v1/permissions/check")
    async def check(body: CheckRequest) -> CheckResponse:
        return CheckResponse(results=[PermissionAnswer(read=True) for _ in body.items])

    return app


async def statuses(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessions() as session:
        rows = await session.execute(
            select(Delivery.status, func.count()).group_by(Delivery.status)
        )
        return {status: int(n) for status, n in rows.all()}
