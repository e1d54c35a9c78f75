"""Oversized and malformed frames, and foreign Origins, against a real gateway on port 0.

Before authentication a bad frame closes the connection (4401, or 1009 when too big); after
it, a bad command gets an ``error`` reply and the connection lives on — except an oversized
frame (1009). Nothing a client sends may kill the handler (1011) or hold memory.
"""

from __future__ import annotations

import json
import uuid

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from services.websocket import protocol
from tests.apps import user_token
from tests.integration.services.websocket.harness import ORIGIN, command, gateway, recv_json

MAX_BYTES = 1024
DEEP = "[" * (MAX_BYTES - 1)  # nests past what json.loads can take, within the frame cap

MALFORMED: dict[str, str | bytes] = {
    "not JSON": "{",
    "deeply nested array": DEEP,
    "deeply nested object": '{"a":' * 150 + "1" + "}" * 150,
    "JSON array": "[]",
    "JSON string": '"ping"',
    "unknown type": '{"type": "shutdown"}',
    "type not a string": '{"type": 1}',
    "extra field": '{"type": "ping", "admin": true}',
    "binary, not UTF-8": b"\xff\xfe\x00",
    "binary JSON": b'{"type": "ping", "id": "b"}x',
    "id too long": json.dumps({"type": "ping", "id": "i" * 65}),
    "resume, negative": '{"type": "resume", "last_id": -1}',
    "resume, past BIGINT": json.dumps({"type": "resume", "last_id": 2**64}),
    "resume, not a number": '{"type": "resume", "last_id": "1 or 1=1"}',
    "subscribe, too many params": json.dumps(
        {"type": "subscribe", "feed": "tender", "params": {f"p{i}": "x" for i in range(17)}}
    ),
    "subscribe, params not strings": json.dumps(
        {"type": "subscribe", "feed": "tender", "params": {"tender_id": {"$ne": None}}}
    ),
    "subscribe, unknown feed": json.dumps({"type": "subscribe", "feed": "../admin", "params": {}}),
}


@pytest.fixture
def memory_bus() -> str:
    return f"memory://{uuid.uuid4().hex}"


async def test_malformed_commands_get_an_error_and_the_connection_lives(
    database_url: str, memory_bus: str
) -> None:
    async with (
        gateway(database_url, memory_bus, ws_max_message_bytes=MAX_BYTES) as gw,
        gw.connect(user_token("u-1")) as conn,
    ):
        await recv_json(conn)
        for name, frame in MALFORMED.items():
            await conn.send(frame)
            reply = await recv_json(conn)
            assert reply["type"] == "error", (name, reply)
            assert reply["code"] in {"bad_request", "bad_params", "unknown_feed"}, (name, reply)
            assert (await command(conn, {"type": "ping", "id": "p"}))["type"] == "pong", name
        assert len(gw.gateway.registry) == 1


async def test_malformed_first_message_is_refused_with_4401(
    database_url: str, memory_bus: str
) -> None:
    async with gateway(database_url, memory_bus, ws_max_message_bytes=MAX_BYTES) as gw:
        for name, frame in MALFORMED.items():
            async with gw.connect() as conn:
                await conn.send(frame)
                with pytest.raises(ConnectionClosed) as caught:
                    await recv_json(conn)
                assert caught.value.rcvd is not None, name
                assert caught.value.rcvd.code == protocol.CLOSE_UNAUTHORIZED, name
        assert len(gw.gateway.registry) == 0


@pytest.mark.parametrize("authenticated", [False, True])
async def test_oversized_frames_close_with_1009(
    database_url: str, memory_bus: str, authenticated: bool
) -> None:
    async with gateway(database_url, memory_bus, ws_max_message_bytes=MAX_BYTES) as gw:
        for frame in ("x" * (MAX_BYTES + 1), b"\x00" * (64 * MAX_BYTES)):
            async with gw.connect(user_token("u-1") if authenticated else None) as conn:
                if authenticated:
                    await recv_json(conn)
                await conn.send(frame)
                with pytest.raises(ConnectionClosed) as caught:
                    await recv_json(conn)
                assert caught.value.rcvd is not None and caught.value.rcvd.code == 1009


async def test_subscriptions_per_connection_are_capped(database_url: str, memory_bus: str) -> None:
    async with (
        gateway(database_url, memory_bus, ws_max_subscriptions=3) as gw,
        gw.connect(user_token("u-1")) as conn,
    ):
        await recv_json(conn)
        replies = [
            await command(
                conn, {"type": "subscribe", "feed": "tender", "params": {"tender_id": f"T-{i}"}}
            )
            for i in range(5)
        ]
        assert [r["type"] for r in replies] == ["subscribed"] * 3 + ["error"] * 2
        assert replies[-1]["code"] == "too_many_subscriptions"


FOREIGN_ORIGINS = [
    "https://evil.test",
    "null",
    f"{ORIGIN}.evil.test",
    ORIGIN.replace("https://", "http://"),  # same host, other scheme
    ORIGIN + ":444",  # same host, other port
    ORIGIN.upper(),
]


async def test_foreign_origins_are_refused_before_the_upgrade(
    database_url: str, memory_bus: str
) -> None:
    async with gateway(database_url, memory_bus) as gw:
        for origin in FOREIGN_ORIGINS:
            with pytest.raises(InvalidStatus) as caught:
                async with gw.connect(user_token("u-1"), origin=origin):
                    pass
            assert caught.value.response.status_code == 403, origin
            assert gw.gateway.handling == 0, origin


async def test_missing_origin_can_be_refused_too(database_url: str, memory_bus: str) -> None:
    """Servers and scripts send no Origin; a deployment for browsers only can refuse them."""
    async with gateway(database_url, memory_bus, ws_allow_missing_origin=False) as gw:
        with pytest.raises(InvalidStatus) as caught:
            async with gw.connect(user_token("u-1"), origin=None):
                pass
        assert caught.value.response.status_code == 403
        async with gw.connect(user_token("u-1")) as conn:  # the allowed Origin still works
            assert (await recv_json(conn))["type"] == "welcome"
