"""Real RabbitMQ users for the producer-identity tests (DESIGN §3.1).

Users are broker-wide, so they are created once per test module with unique names and deleted
afterwards; each test grants them the least-privilege permissions on its own vhost: write to
``herald.events`` only, nothing to configure, nothing to read.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import aio_pika

from libs.common.bus.topology import EVENTS_EXCHANGE
from tests.infra import add_broker_user, as_user, delete_broker_user, grant

PRODUCER_WRITE = r"^herald\.events$"
NOTHING = "^$"


@dataclass(frozen=True)
class BrokerUser:
    name: str
    password: str

    def url(self, vhost_url: str) -> str:
        return as_user(vhost_url, self.name, self.password)


def _run(coros: Sequence[Any]) -> None:
    async def all_of() -> None:
        await asyncio.gather(*coros)

    with ThreadPoolExecutor(1) as pool:  # module fixtures may run while a test's loop runs
        pool.submit(asyncio.run, all_of()).result()


def broker_users(*roles: str) -> Iterator[dict[str, BrokerUser]]:
    """For a module-scoped fixture: one user per role, named ``<role>_<random>``."""
    tag = uuid.uuid4().hex[:8]
    users = {r: BrokerUser(f"{r}_{tag}", uuid.uuid4().hex) for r in roles}
    _run([add_broker_user(u.name, u.password) for u in users.values()])
    try:
        yield users
    finally:
        _run([delete_broker_user(u.name) for u in users.values()])


async def grant_producers(vhost_url: str, users: Sequence[BrokerUser]) -> None:
    await asyncio.gather(
        *(grant(vhost_url, u.name, NOTHING, PRODUCER_WRITE, NOTHING) for u in users)
    )


async def publish_as(
    url: str,
    routing_key: str,
    body: dict[str, Any] | bytes,
    *,
    user_id: str | None = None,
    headers: dict[str, Any] | None = None,
    exchange: str = EVENTS_EXCHANGE,
) -> None:
    """One confirmed publish on a connection to ``url``, with ``user_id`` as given (or none).
    ``exchange=""`` publishes straight to the queue named by the routing key."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        target = (
            channel.default_exchange
            if exchange == ""
            else await channel.get_exchange(exchange, ensure=False)
        )
        message = aio_pika.Message(raw, user_id=user_id, headers=headers or {}, delivery_mode=2)
        await target.publish(message, routing_key=routing_key, mandatory=True)
