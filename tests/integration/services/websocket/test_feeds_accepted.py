"""Feeds come from the events ingest stored (issue 16): HTTP and AMQP alike, once per event,
never a rejected one or a repeat; and a subscription with a feed cursor recovers what it
missed from the database, or says it cannot."""

from __future__ import annotations

import json
from typing import Any

from libs.common.bus import make_bus
from libs.common.bus.topology import EVENTS_EXCHANGE
from services.ingest.app import create_app as ingest_app
from tests.apps import API_KEY, ingest_settings, running, user_token
from tests.integration.services.websocket.harness import command, envelope, gateway, recv_json

ANNOUNCE = "portal.announcement.published"


def announcement(title: str, channel: str = "all", **extra: Any) -> dict[str, Any]:
    body = envelope(channel, title=title)
    return {**body, "source": "portal", "type": "announcement.published", **extra}


async def _titles_until(conn: Any, last: str) -> list[str]:
    titles: list[str] = []
    while not titles or titles[-1] != last:
        frame = await recv_json(conn)
        assert frame["type"] == "event", frame
        titles.append(frame["data"]["payload"]["title"])
    return titles


async def test_only_stored_events_reach_a_feed_once(database_url: str, amqp_url: str) -> None:
    settings = ingest_settings(database_url, amqp_url, api_keys={API_KEY: "*"})
    async with (
        running(ingest_app(settings)) as http,
        gateway(database_url, amqp_url) as gw,
        gw.connect(user_token("u-1")) as conn,
    ):
        await recv_json(conn)
        await command(
            conn, {"type": "subscribe", "feed": "announcements", "params": {"channel": "all"}}
        )
        headers = {"X-API-Key": API_KEY}
        posted = announcement("over http")
        assert (await http.post("/v1/events", json=posted, headers=headers)).status_code == 202
        assert (await http.post("/v1/events", json=posted, headers=headers)).status_code == 202
        bad = announcement("invalid", priority="urgent")
        assert (await http.post("/v1/events", json=bad, headers=headers)).status_code == 422
        raw = make_bus(amqp_url)
        await raw.connect()
        try:
            over_amqp = announcement("over amqp")
            for body in (over_amqp, over_amqp, announcement("rejected", priority="urgent")):
                await raw.publish(EVENTS_EXCHANGE, ANNOUNCE, json.dumps(body).encode())
            await raw.publish(EVENTS_EXCHANGE, ANNOUNCE, b"{not json")
            no_tenant = {k: v for k, v in announcement("no tenant field").items() if k != "tenant"}
            await raw.publish(EVENTS_EXCHANGE, ANNOUNCE, json.dumps(no_tenant).encode())
            last = announcement("last")
            await raw.publish(EVENTS_EXCHANGE, ANNOUNCE, json.dumps(last).encode())
        finally:
            await raw.close()
        titles = await _titles_until(conn, "last")
    # the envelope's default tenant is "default": ingest stored it there, so it is shown
    assert sorted(titles) == sorted(["over http", "over amqp", "no tenant field", "last"])


async def test_a_feed_cursor_recovers_missed_events(database_url: str, amqp_url: str) -> None:
    settings = ingest_settings(database_url, amqp_url, api_keys={API_KEY: "*"})
    headers = {"X-API-Key": API_KEY}
    sub = {"type": "subscribe", "feed": "tender", "params": {"tender_id": "T-1"}}
    async with (
        running(ingest_app(settings, consume=False)) as http,
        gateway(database_url, amqp_url) as gw,
    ):
        gw.permissions.readable.add(("u-1", "T-1"))
        async with gw.connect(user_token("u-1")) as conn:
            await recv_json(conn)
            await command(conn, sub)
            await http.post("/v1/events", json=envelope("T-1", title="seen"), headers=headers)
            seen = await recv_json(conn)
        for title, tender in (("missed 1", "T-1"), ("other tender", "T-2"), ("missed 2", "T-1")):
            await http.post("/v1/events", json=envelope(tender, title=title), headers=headers)
        async with gw.connect(user_token("u-1")) as conn:
            await recv_json(conn)
            await conn.send(json.dumps({**sub, "id": "s", "cursor": seen["cursor"]}))
            got = [await recv_json(conn) for _ in range(3)]
            assert [f["data"]["payload"]["title"] for f in got[:2]] == ["missed 1", "missed 2"]
            assert got[2]["type"] == "subscribed" and got[2]["recovered"] is True
        gw.permissions.readable.clear()  # authorized like live ones: nothing for a denied user
        async with gw.connect(user_token("u-1")) as conn:
            await recv_json(conn)
            reply = await command(conn, {**sub, "cursor": seen["cursor"]})
            assert (reply["type"], reply["recovered"]) == ("subscribed", True)
        for too_old in ("f1.1000000.x", "nonsense"):
            async with gw.connect(user_token("u-1")) as conn:
                await recv_json(conn)
                reply = await command(conn, {**sub, "cursor": too_old})
                assert (reply["type"], reply["recovered"]) == ("subscribed", False), too_old
