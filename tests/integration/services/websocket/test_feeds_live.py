"""Entity feeds through a real gateway: protocol, whitelist projection, per-message
permissions in one mediator call, and a slow client that cannot hold the others back."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from websockets.exceptions import ConnectionClosed

from services.websocket import metrics, protocol
from tests.apps import user_token
from tests.integration.services.websocket.harness import (
    command,
    envelope,
    gateway,
    recv_json,
    subscribe,
)


async def test_subscribe_protocol_acks_and_refusals(database_url: str, amqp_url: str) -> None:
    async with (
        gateway(database_url, amqp_url, ws_max_subscriptions=2) as gw,
        gw.connect(user_token("u-1")) as conn,
    ):
        await recv_json(conn)
        ok = await subscribe(conn, "tender", tender_id="T-1")
        assert ok["type"] == "subscribed" and ok["params"] == {"tender_id": "T-1"}
        assert (await subscribe(conn, "nope", x="1"))["code"] == "unknown_feed"
        assert (await subscribe(conn, "tender", other="1"))["code"] == "bad_params"
        assert (await subscribe(conn, "announcements", channel="c"))["type"] == "subscribed"
        assert (await subscribe(conn, "tender", tender_id="T-2"))["code"] == (
            "too_many_subscriptions"
        )
        bad = await command(conn, {"type": "dance", "id": "d1"})
        assert (bad["code"], bad["id"]) == ("bad_request", "d1")
        await conn.send("not json")
        assert (await recv_json(conn))["code"] == "bad_request"
        off = {
            "type": "unsubscribe",
            "id": "u",
            "feed": "tender",
            "params": {"tender_id": "T-1"},
        }
        assert (await command(conn, off))["type"] == "unsubscribed"
        assert (await command(conn, off))["code"] == "not_subscribed"
        assert gw.gateway.registry.groups.keys() == {("announcements", "default", ("c",))}


async def test_only_whitelisted_fields_reach_the_browser(database_url: str, amqp_url: str) -> None:
    async with gateway(database_url, amqp_url) as gw:
        gw.permissions.readable.add(("u-1", "T-1"))
        async with gw.connect(user_token("u-1")) as conn:
            await recv_json(conn)
            await subscribe(conn, "tender", tender_id="T-1")
            await gw.event("tenders.tender.updated", envelope("T-2", title="other tender"))
            secret = envelope("T-1", title="Fire certificate", contact_phone="+7 900 000")
            secret["entity"]["attributes"]["budget"] = 1_000_000
            event_id = await gw.event("tenders.tender.updated", secret)
            got = await recv_json(conn)
        assert got.pop("cursor").startswith("f1.")
        assert got == {
            "type": "event",
            "feed": "tender",
            "params": {"tender_id": "T-1"},
            "id": event_id,
            "data": {
                "id": secret["id"],
                "type": "tender.updated",
                "entity": {"id": "T-1", "attributes": {"status": "open"}},
                "payload": {"title": "Fire certificate"},
            },
        }


async def test_revoked_permission_withholds_the_event_from_that_user_only(
    database_url: str, amqp_url: str
) -> None:
    async with gateway(database_url, amqp_url) as gw:
        gw.permissions.readable |= {("u-1", "T-1"), ("u-2", "T-1")}
        async with gw.connect(user_token("u-1")) as one, gw.connect(user_token("u-2")) as two:
            for conn in (one, two):
                await recv_json(conn)
                await subscribe(conn, "tender", tender_id="T-1")
                await subscribe(conn, "announcements", channel="all")
            gw.permissions.readable.discard(("u-2", "T-1"))  # revoked after subscribing
            await gw.event("tenders.tender.updated", envelope("T-1", title="secret plan"))
            await gw.event("portal.announcement.published", envelope("all", title="hello"))
            first_one, first_two = await recv_json(one), await recv_json(two)
        assert first_one["feed"] == "tender"
        assert first_one["data"]["payload"]["title"] == "secret plan"
        # u-2's next frame is the announcement published after: the tender event never came
        assert first_two["feed"] == "announcements"
        assert len(gw.permissions.calls) == 1  # both subscribers in one batch
        assert sorted(i.user_id for i in gw.permissions.calls[0].items) == ["u-1", "u-2"]


async def test_mediator_failure_denies(database_url: str, amqp_url: str) -> None:
    async with gateway(database_url, amqp_url, mediator_api_key="wrong-key-0123456789") as gw:
        gw.permissions.readable.add(("u-1", "T-1"))
        errors = metrics.MEDIATOR_CALLS.labels("error")._value.get()
        async with gw.connect(user_token("u-1")) as conn:
            await recv_json(conn)
            await subscribe(conn, "tender", tender_id="T-1")
            await subscribe(conn, "announcements", channel="all")
            await gw.event("tenders.tender.updated", envelope("T-1", title="secret"))
            await gw.event("portal.announcement.published", envelope("all", title="hello"))
            assert (await recv_json(conn))["feed"] == "announcements"
        assert metrics.MEDIATOR_CALLS.labels("error")._value.get() == errors + 1


async def test_other_tenants_never_share_a_feed(database_url: str, amqp_url: str) -> None:
    async with (
        gateway(database_url, amqp_url) as gw,
        gw.connect(user_token("u-1", "acme")) as conn,
    ):
        await recv_json(conn)
        await subscribe(conn, "announcements", channel="all")
        await gw.event("portal.announcement.published", envelope("all", title="default"))
        acme = envelope("all", title="acme")
        acme["tenant"] = "acme"
        await gw.event("portal.announcement.published", acme)
        assert (await recv_json(conn))["data"]["payload"]["title"] == "acme"


async def test_a_slow_client_does_not_delay_the_others(database_url: str, amqp_url: str) -> None:
    # 15 MB to a client that never reads: more than the kernel buffers in between can hold
    count, blob = 150, "x" * 100_000
    async with gateway(database_url, amqp_url, ws_max_backlog_bytes=1024 * 1024) as gw:
        drops = metrics.DROPS._value.get()
        async with (
            gw.connect(user_token("u-fast"), max_queue=None) as fast,
            gw.connect(user_token("u-slow"), max_queue=1) as slow,
        ):
            for conn in (fast, slow):
                await recv_json(conn)
                await subscribe(conn, "announcements", channel="all")

            async def read_all() -> list[str]:
                return [(await recv_json(fast))["data"]["payload"]["title"] for _ in range(count)]

            reader = asyncio.create_task(read_all())
            for i in range(count):
                body = envelope("all", title=str(i), blob=blob)
                await gw.event("portal.announcement.published", body)
            # the fast one gets everything, in order, while the slow one has read nothing
            assert await reader == [str(i) for i in range(count)]
            assert metrics.DROPS._value.get() == drops + 1
            with pytest.raises(ConnectionClosed):
                while True:
                    frame = json.loads(await asyncio.wait_for(slow.recv(), 10))
                    assert frame["type"] == "event"
            assert slow.close_code in (protocol.CLOSE_TOO_SLOW, 1006)


async def test_embedded_mode_on_the_memory_bus(database_url: str) -> None:
    """`herald dev` runs the gateway on the in-memory bus: same queue, same fan-out."""
    async with (
        gateway(database_url, f"memory://{uuid.uuid4().hex}") as gw,
        gw.connect(user_token("u-1")) as conn,
    ):
        await recv_json(conn)
        await subscribe(conn, "announcements", channel="all")
        await gw.event("portal.announcement.published", envelope("all", title="dev"))
        assert (await recv_json(conn))["data"]["payload"]["title"] == "dev"
