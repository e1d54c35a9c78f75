"""The JWKS key source (libs/common/security/jwks.py) against a real local key server, and the PyJWT
behaviour it relies on, pinned here rather than guessed from a version number."""

from __future__ import annotations

import asyncio
import base64
import json

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt import PyJWKSet

from libs.common.security.jwks import JwksKeys, KeySetUnavailable, parse_key_set
from tests.unit.security.jwks_server import key_server, private_key, public_jwk, signed

OCT = {"kty": "oct", "kid": "shared", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"}


# --- PyJWT, as we use it ---


def test_pyjwt_key_set_skips_unusable_keys_and_exposes_kid_use_and_type() -> None:
    parsed = PyJWKSet.from_dict(
        {"keys": [public_jwk("k1"), {"kty": "XYZ", "kid": "odd"}, {"kid": "no-kty"}, "text"]}
    )
    [jwk] = parsed.keys
    assert (jwk.key_id, jwk.public_key_use, jwk.key_type) == ("k1", "sig", "RSA")
    assert isinstance(jwk.key, rsa.RSAPublicKey)
    # the key object verifies our tokens as jwt.decode's key, with our algorithm list
    claims = jwt.decode(signed("k1"), jwk.key, algorithms=["RS256"], options={"verify_aud": False})
    assert claims["sub"] == "alice"


@pytest.mark.parametrize("document", [{"keys": []}, {}, {"keys": "k1"}, {"keys": [{"kty": "?"}]}])
def test_pyjwt_key_set_without_a_usable_key_raises(document: dict[str, object]) -> None:
    with pytest.raises(jwt.PyJWTError):
        PyJWKSet.from_dict(document)


def test_pyjwt_key_set_accepts_symmetric_keys_so_we_filter_them() -> None:
    assert [k.key_type for k in PyJWKSet.from_dict({"keys": [OCT]}).keys] == ["oct"]
    with pytest.raises(KeySetUnavailable, match="no public signing key"):
        parse_key_set(json.dumps({"keys": [OCT]}).encode())


def test_pyjwt_unverified_header_refuses_a_non_string_kid() -> None:
    header = base64.urlsafe_b64encode(b'{"alg":"RS256","kid":7}').rstrip(b"=").decode()
    token = f"{header}.e30.c2ln"  # jwt.encode itself refuses to write such a header
    with pytest.raises(jwt.PyJWTError, match="must be a string"):
        jwt.get_unverified_header(token)
    assert jwt.get_unverified_header(signed("k1"))["kid"] == "k1"


# --- our parsing ---


def test_parse_key_set_keeps_public_signing_keys_first_of_a_kid_wins() -> None:
    encryption = {**public_jwk("k2"), "use": "enc"}
    doc = {"keys": [public_jwk("k1"), {**public_jwk("k3"), "kid": "k1"}, encryption, OCT]}
    keys = parse_key_set(json.dumps(doc).encode())
    assert list(keys) == ["k1"]
    assert keys["k1"].public_numbers() == private_key("k1").public_key().public_numbers()


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"keys": []}', b"\xff"])
def test_parse_key_set_refuses_what_is_not_a_key_set(body: bytes) -> None:
    with pytest.raises(KeySetUnavailable):
        parse_key_set(body)


# --- fetching, against a real server ---


async def test_concurrent_lookups_share_one_fetch() -> None:
    with key_server("k1") as server:
        keys = JwksKeys(server.url, cache_s=60, cooldown_s=60)
        found = await asyncio.gather(*(keys.key(k) for k in ["k1"] * 10 + ["nope"] * 10))
        assert server.fetches == 1
        assert found[:10] == [found[0]] * 10 and found[0] is not None
        assert found[10:] == [None] * 10  # a fresh set already answered for the unknown kid


async def test_a_failed_fetch_is_not_retried_within_the_cooldown() -> None:
    with key_server("k1") as server:
        server.down = True
        keys = JwksKeys(server.url, cache_s=60, cooldown_s=60)
        for _ in range(5):
            with pytest.raises(KeySetUnavailable):
                await keys.key("k1")
        assert server.fetches == 1


async def test_unreachable_and_hung_key_servers_are_unavailable() -> None:
    refused = JwksKeys("http://127.0.0.1:9/jwks.json", cache_s=60, cooldown_s=0)
    with pytest.raises(KeySetUnavailable, match="unreachable"):
        await refused.key("k1")

    release, closed = asyncio.Event(), asyncio.Event()

    async def hang(_r: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await release.wait()  # never answers; closes its side when the test is done
        finally:
            writer.close()
            await writer.wait_closed()
            closed.set()

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    hung = JwksKeys(f"http://127.0.0.1:{port}/", cache_s=60, cooldown_s=0, timeout_s=0.2)
    try:
        with pytest.raises(KeySetUnavailable, match="unreachable"):
            await hung.key("k1")
    finally:
        release.set()
        await asyncio.wait_for(closed.wait(), 5)
        server.close()
        await server.wait_closed()


async def test_a_new_kid_waits_for_the_refetch_another_kid_started() -> None:
    """Junk and a real rotated kid at the same moment: the real one is not refused because
    the junk one happened to start the (single, rate-limited) refetch."""
    with key_server("k1") as server:
        keys = JwksKeys(server.url, cache_s=60, cooldown_s=60)
        assert await keys.key("k1") is not None
        server.publish("k1", "k2")
        junk, new = await asyncio.gather(keys.key("junk"), keys.key("k2"))
        assert junk is None and new is not None
        assert server.fetches == 2
