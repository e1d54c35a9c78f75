"""The JWT attack set against the websocket gateway: in the URL, as the first message, and as
a token refresh on an open connection — with HS256 and with RS256 keys. A real gateway on
port 0 (tests/integration/services/websocket/harness.py), on the in-memory bus: only the handshake
and the commands are under test here."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from websockets.exceptions import ConnectionClosed

from services.websocket import protocol
from tests.apps import user_token
from tests.integration.security.jwt_attacks import FAMILIES, REQUIRED_ATTACKS, attack_set
from tests.integration.services.ingest.test_auth_jwt import Keys
from tests.integration.services.websocket.harness import command, gateway, recv_json
from tests.integration.services.websocket.test_auth import _refused
from tests.unit.security.jwks_server import key_server, signed


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


@pytest.fixture
def memory_bus() -> str:
    return f"memory://{uuid.uuid4().hex}"


@pytest.mark.parametrize("family", FAMILIES)
async def test_forged_tokens_never_open_a_connection(
    database_url: str, memory_bus: str, keys: Keys, family: str
) -> None:
    attacks = attack_set(family, keys)
    assert set(attacks.attacks) >= REQUIRED_ATTACKS
    async with gateway(database_url, memory_bus, **attacks.settings) as gw:
        for name, token in attacks.attacks.items():
            for via_message in (False, True):
                closed = await _refused(gw, token, via_message)
                assert closed.rcvd is not None, (name, via_message)
                assert closed.rcvd.code == protocol.CLOSE_UNAUTHORIZED, (name, via_message)
        assert len(gw.gateway.registry) == 0
        async with gw.connect(attacks.good) as conn:  # the probe does reach the verifier
            assert (await recv_json(conn))["type"] == "welcome"


@pytest.mark.parametrize("family", FAMILIES)
async def test_forged_refresh_tokens_change_nothing(
    database_url: str, memory_bus: str, keys: Keys, family: str
) -> None:
    attacks = attack_set(family, keys)
    async with (
        gateway(database_url, memory_bus, **attacks.settings) as gw,
        gw.connect(attacks.good) as conn,
    ):
        welcome = await recv_json(conn)
        client = next(gw.gateway.registry.clients())
        exp = client.exp
        for name, token in attacks.attacks.items():
            reply = await command(conn, {"type": "auth", "id": "r", "token": token})
            assert reply["type"] == "error" and reply["code"] == "unauthorized", name
        assert (client.user_id, client.exp) == (welcome["user_id"], exp)
        assert (await command(conn, {"type": "ping", "id": "p"}))["type"] == "pong"


async def test_refresh_with_another_users_valid_token_is_refused(
    database_url: str, memory_bus: str
) -> None:
    async with gateway(database_url, memory_bus) as gw, gw.connect(user_token("u-1")) as conn:
        await recv_json(conn)
        for other in (user_token("u-2"), user_token("u-1", tenant="other")):
            reply = await command(conn, {"type": "auth", "id": "r", "token": other})
            assert (reply["code"], reply["reason"]) == ("unauthorized", "token is for another user")
        client = next(gw.gateway.registry.clients())
        assert (client.tenant, client.user_id) == ("default", "u-1")


async def test_token_must_be_the_first_message(database_url: str, memory_bus: str) -> None:
    """Commands before authentication never run: each closes the connection with 4401."""
    before_auth = [
        {"type": "subscribe", "feed": "tender", "params": {"tender_id": "T-1"}},
        {"type": "resume", "last_id": 0},
        {"type": "auth"},
        {"type": "auth", "token": ""},
        {"type": "auth", "token": "x" * 3000},
    ]
    async with gateway(database_url, memory_bus) as gw:
        for message in before_auth:
            async with gw.connect() as conn:
                await conn.send(json.dumps(message))
                with pytest.raises(ConnectionClosed) as caught:
                    await recv_json(conn)
                assert caught.value.rcvd is not None, message
                assert caught.value.rcvd.code == protocol.CLOSE_UNAUTHORIZED, message


# --- a JWKS URL: rotation, and a key server that is down (issue 15) ---

CACHE_S = 0.5  # HERALD_JWT_JWKS_CACHE_S, short so the test sees the set expire


async def test_keys_unavailable_closes_with_try_again_later_not_4401(
    database_url: str, memory_bus: str
) -> None:
    """A key server outage is ours, not the user's: 4401 would make the app log them out."""
    with key_server("k1") as keys:
        keys.down = True
        settings = keys.settings(jwt_jwks_refetch_cooldown_s=0)
        async with gateway(database_url, memory_bus, **settings) as gw:
            for via_message in (False, True):
                closed = await _refused(gw, signed("k1"), via_message)
                assert closed.rcvd is not None, via_message
                assert closed.rcvd.code == protocol.CLOSE_TRY_LATER == 1013, closed.rcvd
                assert "try again" in closed.rcvd.reason, closed.rcvd
            keys.down = False
            async with gw.connect(signed("k1")) as conn:
                assert (await recv_json(conn))["type"] == "welcome"


async def test_token_refresh_while_keys_are_unavailable_keeps_the_connection(
    database_url: str, memory_bus: str
) -> None:
    with key_server("k1") as keys:
        settings = keys.settings(jwt_jwks_cache_s=CACHE_S, jwt_jwks_refetch_cooldown_s=0)
        async with (
            gateway(database_url, memory_bus, **settings) as gw,
            gw.connect(signed("k1")) as conn,
        ):
            assert (await recv_json(conn))["type"] == "welcome"
            keys.down = True
            await asyncio.sleep(CACHE_S + 0.2)
            reply = await command(conn, {"type": "auth", "id": "r", "token": signed("k1")})
            assert (reply["type"], reply["code"]) == ("error", "unavailable"), reply
            assert (await command(conn, {"type": "ping", "id": "p"}))["type"] == "pong"


async def test_rotated_and_removed_keys_on_the_gateway(database_url: str, memory_bus: str) -> None:
    with key_server("k1") as keys:
        settings = keys.settings(jwt_jwks_cache_s=CACHE_S)
        async with gateway(database_url, memory_bus, **settings) as gw:
            async with gw.connect(signed("k1")) as conn:
                assert (await recv_json(conn))["type"] == "welcome"
            keys.publish("k2")
            async with gw.connect(signed("k2")) as conn:  # at once, no cooldown to wait out
                assert (await recv_json(conn))["type"] == "welcome"
            await asyncio.sleep(CACHE_S + 0.2)
            closed = await _refused(gw, signed("k1"), via_message=False)
            assert closed.rcvd is not None and closed.rcvd.code == protocol.CLOSE_UNAUTHORIZED
