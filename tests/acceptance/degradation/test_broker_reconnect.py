"""The broker closes every connection (as a RabbitMQ restart does), or stays away for a while:
the consumers and publishers of the processor, the sender and the websocket gateway come back
by themselves. Sweeps are
turned off where they would hide a dead consumer, so only the bus can make these tests pass."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.bus import make_bus
from libs.common.bus.topology import PROCESS_KEY, WORK_EXCHANGE
from services.processor.app import create_app as processor_app
from services.sender.app import create_app as sender_app
from tests.acceptance.degradation.support import (
    allow_all_mediator,
    broker_down,
    connections,
    consumers_on,
    drop_connections,
    statuses,
)
from tests.apps import eventually, running, user_token
from tests.integration.services.processor.support import add, event, person, store
from tests.integration.services.processor.support import settings as processor_settings
from tests.integration.services.sender.support import sender_settings
from tests.integration.services.websocket.harness import (
    envelope,
    gateway,
    http_server,
    recv_json,
    subscribe,
)

NO_SWEEP_S = 3600.0  # longer than any test: only a nudge over the bus can start the work
RECONNECT_TIMEOUT_S = 30  # aio-pika retries every 5 s


def _back_to(amqp_url: str, count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await connections(amqp_url) >= count

    return check


def _status(client: httpx.AsyncClient, code: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return (await client.get("/readyz")).status_code == code

    return check


async def _reconnected(amqp_url: str, clients: list[httpx.AsyncClient]) -> None:
    count = await connections(amqp_url)
    await drop_connections(amqp_url)
    await eventually(_back_to(amqp_url, count), timeout_s=RECONNECT_TIMEOUT_S)
    for client in clients:
        await eventually(_status(client, 200), timeout_s=RECONNECT_TIMEOUT_S)


async def test_processor_and_sender_take_nudges_again_after_the_broker_drops_them(
    database_url: str, amqp_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await add(sessions, person("u-17"), person("u-3"))
    async with AsyncExitStack() as stack:
        mediator_url = await stack.enter_async_context(http_server(allow_all_mediator()))
        p_cfg = processor_settings(database_url, amqp_url, processor_sweep_interval_s=NO_SWEEP_S)
        processor = await stack.enter_async_context(running(processor_app(p_cfg)))
        s_cfg = sender_settings(
            database_url,
            amqp_url=amqp_url,
            mediator_url=mediator_url,
            outbox_dir=tmp_path,
            sender_sweep_interval_s=NO_SWEEP_S,
        )
        sender = await stack.enter_async_context(running(sender_app(s_cfg)))
        await _reconnected(amqp_url, [processor, sender])

        event_id = await store(sessions, event())
        bus = make_bus(amqp_url)
        await bus.connect()
        stack.push_async_callback(bus.close)
        # processor consumer → commit → its publisher nudges the sender → sender consumer
        await bus.publish(WORK_EXCHANGE, PROCESS_KEY, json.dumps({"event_id": event_id}).encode())

        async def all_sent() -> bool:
            return await statuses(sessions) == {"SENT": 4}  # two people × (e-mail, browser)

        await eventually(all_sent, timeout_s=30)
    assert len(list(tmp_path.glob("*.eml"))) == 2


async def test_gateway_rides_out_a_broker_outage_and_gets_pushes_and_events_again(
    database_url: str, amqp_url: str
) -> None:
    async with gateway(database_url, amqp_url) as gw:
        gw.permissions.readable.add(("u-1", "T-1"))
        port = gw.url.rsplit(":", 1)[1]
        async with (
            gw.connect(user_token("u-1")) as conn,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http,
        ):
            await recv_json(conn)
            await subscribe(conn, "tender", tender_id="T-1")
            async with broker_down(amqp_url):
                await eventually(_status(http, 503), timeout_s=RECONNECT_TIMEOUT_S)
                # the open page is not dropped: it still gets answers from the gateway
                assert (await subscribe(conn, "announcements", channel="c"))["type"] == "subscribed"
            await eventually(_status(http, 200), timeout_s=RECONNECT_TIMEOUT_S)

            async def queue_back() -> bool:  # its per-instance queue, re-declared and bound
                return await consumers_on(amqp_url, "herald.websocket.") == 1

            await eventually(queue_back, timeout_s=RECONNECT_TIMEOUT_S)
            await eventually(_back_to(amqp_url, 2), timeout_s=RECONNECT_TIMEOUT_S)  # + ours
            await gw.event("tenders.tender.updated", envelope("T-1", title="after the outage"))
            got = await recv_json(conn)
            assert (got["type"], got["data"]["payload"]) == ("event", {"title": "after the outage"})
            counts = {"total": 7, "by_source": {"tenders": 7}}
            await gw.push(
                {"kind": "counts", "tenant": "default", "user_id": "u-1", "counts": counts}
            )
            assert await recv_json(conn) == {"type": "counts", "counts": counts}
