"""User tokens against every attack in the issue, with HS256, RS256 + PEM key and RS256 + JWKS.

Every refused token answers 401 in the one error shape; the JWKS comes from a real local HTTP
server (port 0).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.apps import JWT_AUDIENCE, JWT_ISSUER, JWT_SECRET
from tests.integration.services.ingest.user_api_data import user_api
from tests.unit.security.jwks_server import json_server

PROBE = "/v1/inbox/counts"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(**over: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "sub": "alice",
        "tenant": "default",
        "aud": JWT_AUDIENCE,
        "iss": JWT_ISSUER,
        "iat": now,
        "exp": now + 600,
        **over,
    }
    return {k: v for k, v in claims.items() if v is not None}


def _hand_signed(header: dict[str, Any], claims: dict[str, Any], secret: bytes | None) -> str:
    """Tokens no library would produce: alg none, HMAC keyed with a public key."""
    signing = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    sig = hmac.new(secret, signing.encode(), hashlib.sha256).digest() if secret else b""
    return f"{signing}.{_b64(sig)}"


class Keys:
    def __init__(self) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_pem = (
            self.private.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def rs256(self, claims: dict[str, Any], key: Any = None, kid: str = "k1") -> str:
        return jwt.encode(claims, key or self.private, algorithm="RS256", headers={"kid": kid})

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        return {"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


@pytest.fixture
def jwks_url(keys: Keys) -> Iterator[str]:
    body = json.dumps(keys.jwks()).encode()
    with json_server(lambda: (200, body)) as url:
        yield url


def _common_attacks(sign: Callable[[dict[str, Any]], str]) -> dict[str, str]:
    """Tokens signed with the right key but with bad claims."""
    now = int(time.time())
    return {
        "expired": sign(_claims(exp=now - 60, iat=now - 700)),
        "not yet valid": sign(_claims(nbf=now + 600)),
        "wrong audience": sign(_claims(aud="someone-else")),
        "wrong issuer": sign(_claims(iss="https://evil.test")),
        "missing exp": sign(_claims(exp=None)),
        "missing aud": sign(_claims(aud=None)),
        "missing iss": sign(_claims(iss=None)),
        "missing sub": sign(_claims(sub=None)),
        "empty sub": sign(_claims(sub="")),
        "non-string tenant": sign(_claims(tenant=["a", "b"])),
        "alg none": _hand_signed({"alg": "none", "typ": "JWT"}, _claims(), None),
        "garbage": "not.a.token",
    }


async def _assert_refused(
    database_url: str, settings: dict[str, Any], attacks: dict[str, str]
) -> None:
    async with user_api(database_url, **settings) as http:
        for name, token in attacks.items():
            resp = await http.get(PROBE, headers={"Authorization": f"Bearer {token}"})
            assert resp.status_code == 401, f"{name}: {resp.status_code} {resp.text}"
            assert resp.json()["error"]["code"] == "unauthorized", name
            assert resp.headers["www-authenticate"] == "Bearer", name
        for header in ({}, {"Authorization": "Basic YWxpY2U6cHc="}, {"Authorization": "Bearer"}):
            assert (await http.get(PROBE, headers=header)).status_code == 401, header


async def _assert_accepted(database_url: str, settings: dict[str, Any], token: str) -> None:
    async with user_api(database_url, **settings) as http:
        resp = await http.get(PROBE, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text


def _hs256(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


# the HS512 token is signed with the HS256 test secret on purpose: PyJWT finds it short
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
async def test_hs256_refuses_every_attack(database_url: str, keys: Keys) -> None:
    attacks = _common_attacks(_hs256)
    attacks["wrong secret"] = jwt.encode(_claims(), "x" * 40, algorithm="HS256")
    attacks["RS256 where HS256 is configured"] = keys.rs256(_claims())
    attacks["HS512 not in the list"] = jwt.encode(_claims(), JWT_SECRET, algorithm="HS512")
    await _assert_refused(database_url, {}, attacks)
    await _assert_accepted(database_url, {}, _hs256(_claims()))


def _rs256_settings(**over: Any) -> dict[str, Any]:
    return {"jwt_algorithms": ["RS256"], "jwt_secret": None, **over}


async def test_rs256_public_key_refuses_every_attack(database_url: str, keys: Keys) -> None:
    attacks = _common_attacks(keys.rs256)
    attacks["HS256 signed with the public key"] = _hand_signed(
        {"alg": "HS256", "typ": "JWT"}, _claims(), keys.public_pem.encode()
    )
    attacks["wrong key"] = keys.rs256(_claims(), key=keys.other)
    settings = _rs256_settings(jwt_public_key=keys.public_pem)
    await _assert_refused(database_url, settings, attacks)
    await _assert_accepted(database_url, settings, keys.rs256(_claims()))


async def test_rs256_jwks_refuses_every_attack(
    database_url: str, keys: Keys, jwks_url: str
) -> None:
    attacks = _common_attacks(keys.rs256)
    attacks["HS256 signed with the public key"] = _hand_signed(
        {"alg": "HS256", "typ": "JWT", "kid": "k1"}, _claims(), keys.public_pem.encode()
    )
    attacks["wrong key, known kid"] = keys.rs256(_claims(), key=keys.other)
    attacks["unknown kid"] = keys.rs256(_claims(), key=keys.other, kid="k2")
    settings = _rs256_settings(jwt_jwks_url=jwks_url)
    await _assert_refused(database_url, settings, attacks)
    await _assert_accepted(database_url, settings, keys.rs256(_claims()))


async def test_unreachable_jwks_is_503_not_a_logout(database_url: str, keys: Keys) -> None:
    settings = _rs256_settings(jwt_jwks_url="http://127.0.0.1:9/jwks.json")  # discard port
    async with user_api(database_url, **settings) as http:
        token = keys.rs256(_claims())
        resp = await http.get(PROBE, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 503, resp.text
    assert resp.json()["error"]["code"] == "unavailable"
    assert resp.headers["retry-after"] == "5"


def test_settings_refuse_mixing_hmac_and_public_key_algorithms() -> None:
    from libs.common.security.auth import JwtSettings

    with pytest.raises(ValueError, match="must not mix"):
        JwtSettings(
            jwt_algorithms=["HS256", "RS256"],
            jwt_secret=JWT_SECRET,
            jwt_public_key="-----BEGIN PUBLIC KEY-----",
            jwt_audience=JWT_AUDIENCE,
            jwt_issuer=JWT_ISSUER,
        )
