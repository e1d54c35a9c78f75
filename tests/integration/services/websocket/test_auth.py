"""Connecting: the JWT attack suite, Origin allow-list, auth timeout, limits.

These tests exercise only the connection, never the broker, so they run on the in-memory bus
(the embedded mode, a fresh one per test); everything that carries messages uses RabbitMQ."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from websockets.exceptions import ConnectionClosed, InvalidStatus

from services.websocket import protocol
from tests.apps import JWT_AUDIENCE, JWT_ISSUER, JWT_SECRET, user_token
from tests.integration.services.websocket.harness import Running, command, gateway, recv_json


@pytest.fixture
def memory_bus() -> str:
    return f"memory://{uuid.uuid4().hex}"


def _claims(**over: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"sub": "u-1", "tenant": "default", "aud": JWT_AUDIENCE, "iss": JWT_ISSUER}
    return {**claims, "iat": now, "exp": now + 600, **over}


def _attack_tokens() -> dict[str, str]:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    good = jwt.encode(_claims(), JWT_SECRET, algorithm="HS256")
    head, _payload, sig = good.split(".")
    forged_payload = jwt.utils.base64url_encode(b'{"sub":"admin","aud":"x"}').decode()
    no_exp = _claims()
    del no_exp["exp"]
    return {
        "alg none": _unsigned(_claims()),
        "wrong key": jwt.encode(_claims(), "another-secret-0123456789abcdefghijk", "HS256"),
        "wrong audience": jwt.encode(_claims(aud="someone-else"), JWT_SECRET, "HS256"),
        "wrong issuer": jwt.encode(_claims(iss="https://evil.test"), JWT_SECRET, "HS256"),
        "expired": jwt.encode(_claims(exp=int(time.time()) - 3600), JWT_SECRET, "HS256"),
        "no exp": jwt.encode(no_exp, JWT_SECRET, "HS256"),
        "algorithm not allowed": jwt.encode(_claims(), JWT_SECRET, "HS512"),
        "RS256 instead of HS256": jwt.encode(_claims(), rsa_key, "RS256"),
        "tampered payload": f"{head}.{forged_payload}.{sig}",
        "garbage": "not-a-jwt",
        "empty user": jwt.encode(_claims(sub=""), JWT_SECRET, "HS256"),
    }


def _unsigned(claims: dict[str, Any]) -> str:
    header = jwt.utils.base64url_encode(b'{"alg":"none","typ":"JWT"}').decode()
    body = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    return f"{header}.{body}."


async def _refused(gw: Running, token: str, via_message: bool) -> ConnectionClosed:
    async with gw.connect(None if via_message else token) as conn:
        if via_message:
            await conn.send(f'{{"type":"auth","token":"{token}"}}')
        with pytest.raises(ConnectionClosed) as caught:
            await recv_json(conn)
    return caught.value


# the HS512 token is signed with the HS256 test secret on purpose: PyJWT finds it short
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_jwt_attacks_are_refused_with_4401(database_url: str, memory_bus: str) -> None:
    async with gateway(database_url, memory_bus) as gw:
        for name, token in _attack_tokens().items():
            for via_message in (False, True):
                closed = await _refused(gw, token, via_message)
                assert closed.rcvd is not None, name
                assert closed.rcvd.code == protocol.CLOSE_UNAUTHORIZED, name
                assert closed.rcvd.reason, name
        assert len(gw.gateway.registry) == 0


async def test_valid_token_in_query_or_first_message(database_url: str, memory_bus: str) -> None:
    async with gateway(database_url, memory_bus) as gw:
        async with gw.connect(user_token("u-1")) as conn:
            welcome = await recv_json(conn)
            assert welcome["type"] == "welcome" and welcome["user_id"] == "u-1"
        async with gw.connect() as conn:
            await conn.send(f'{{"type":"auth","token":"{user_token("u-2", "acme")}"}}')
            welcome = await recv_json(conn)
            assert (welcome["user_id"], welcome["tenant"]) == ("u-2", "acme")
            assert (await command(conn, {"type": "ping", "id": "p1"})) == {
                "type": "pong",
                "id": "p1",
            }


async def test_foreign_origin_is_refused(database_url: str, memory_bus: str) -> None:
    async with gateway(database_url, memory_bus) as gw:
        with pytest.raises(InvalidStatus) as caught:
            async with gw.connect(user_token("u-1"), origin="https://evil.test"):
                pass
        assert caught.value.response.status_code == 403


async def test_missing_auth_times_out_and_first_message_must_be_auth(
    database_url: str, memory_bus: str
) -> None:
    async with gateway(database_url, memory_bus, ws_auth_timeout_s=0.2) as gw:
        async with gw.connect() as conn:
            with pytest.raises(ConnectionClosed) as caught:
                await recv_json(conn)
            assert caught.value.rcvd is not None
            assert caught.value.rcvd.code == protocol.CLOSE_AUTH_TIMEOUT
        async with gw.connect() as conn:
            await conn.send('{"type":"ping"}')
            with pytest.raises(ConnectionClosed) as caught:
                await recv_json(conn)
            assert caught.value.rcvd is not None
            assert caught.value.rcvd.code == protocol.CLOSE_UNAUTHORIZED


async def test_full_gateway_refuses_with_retry_hint(database_url: str, memory_bus: str) -> None:
    async with (
        gateway(database_url, memory_bus, ws_max_connections=1) as gw,
        gw.connect(user_token("u-1")) as first,
    ):
        await recv_json(first)
        with pytest.raises(InvalidStatus) as caught:
            async with gw.connect(user_token("u-2")):
                pass
        response = caught.value.response
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"


async def test_oversized_message_closes_with_1009(database_url: str, memory_bus: str) -> None:
    async with (
        gateway(database_url, memory_bus, ws_max_message_bytes=1024) as gw,
        gw.connect(user_token("u-1")) as conn,
    ):
        await recv_json(conn)
        await conn.send("x" * 2048)
        with pytest.raises(ConnectionClosed) as caught:
            await recv_json(conn)
        assert caught.value.rcvd is not None and caught.value.rcvd.code == 1009


async def test_idle_and_expired_connections_are_swept(database_url: str, memory_bus: str) -> None:
    async with gateway(database_url, memory_bus, ws_idle_timeout_s=0.01) as gw:
        async with gw.connect(user_token("u-1")) as conn:
            await recv_json(conn)
            client = next(gw.gateway.registry.clients())
            client.last_seen -= 1.0  # as if silent for a second
            gw.gateway.sweep.once()
            with pytest.raises(ConnectionClosed) as caught:
                await recv_json(conn)
            assert caught.value.rcvd is not None
            assert caught.value.rcvd.code == protocol.CLOSE_IDLE
        async with gw.connect(user_token("u-1")) as conn:
            await recv_json(conn)
            client = next(gw.gateway.registry.clients())
            client.last_seen += 60.0
            client.exp = time.time() - 3600  # as if the token ran out mid-connection
            gw.gateway.sweep.once()
            with pytest.raises(ConnectionClosed) as caught:
                await recv_json(conn)
            assert caught.value.rcvd is not None
            assert caught.value.rcvd.code == protocol.CLOSE_POLICY


async def test_health_endpoints(database_url: str, memory_bus: str) -> None:
    import httpx

    async with gateway(database_url, memory_bus) as gw:
        base = gw.url.replace("ws://", "http://")
        async with httpx.AsyncClient(base_url=base) as http:
            assert (await http.get("/healthz")).status_code == 200
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert "herald_ws_connections" in (await http.get("/metrics")).text
