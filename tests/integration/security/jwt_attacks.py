"""The JWT attack set, per key family, built from the user-API tests' own token makers
(tests/integration/services/ingest/test_auth_jwt.py) so every surface is attacked with the same
tokens.

Each family comes with the settings that configure a service for it (the same field names
for ingest and the websocket gateway: ``libs/common/security/auth.py::JwtSettings``) and a good
token, so a test can prove its probe reaches the verifier at all.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

import jwt

from tests.apps import JWT_SECRET
from tests.integration.services.ingest.test_auth_jwt import (
    Keys,
    _b64,
    _claims,
    _common_attacks,
    _hand_signed,
)

FAMILIES = ("HS256", "RS256")


@dataclass(frozen=True)
class AttackSet:
    settings: dict[str, Any]
    attacks: dict[str, str]
    good: str


def _hs256(claims: dict[str, Any]) -> str:
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


def _tampered(token: str) -> str:
    """A good token whose payload was swapped for another user's, signature kept."""
    head, _payload, sig = token.split(".")
    forged = _b64(b'{"sub":"admin","tenant":"default","aud":"x","iss":"y","exp":9999999999}')
    return f"{head}.{forged}.{sig}"


def _hs512(claims: dict[str, Any]) -> str:
    """HS512 with the right secret: an algorithm the server does not list."""
    header = {"alg": "HS512", "typ": "JWT"}
    signing = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    sig = hmac.new(JWT_SECRET.encode(), signing.encode(), hashlib.sha512).digest()
    return f"{signing}.{_b64(sig)}"


def hs256_set(keys: Keys) -> AttackSet:
    attacks = _common_attacks(_hs256)
    attacks["wrong secret"] = jwt.encode(_claims(), "x" * 40, algorithm="HS256")
    attacks["RS256 where HS256 is configured"] = keys.rs256(_claims())
    attacks["HS512 not in the list"] = _hs512(_claims())
    attacks["tampered payload"] = _tampered(_hs256(_claims()))
    return AttackSet({}, attacks, _hs256(_claims()))


def rs256_set(keys: Keys) -> AttackSet:
    attacks = _common_attacks(keys.rs256)
    attacks["HS256 signed with the RS256 public key"] = _hand_signed(
        {"alg": "HS256", "typ": "JWT"}, _claims(), keys.public_pem.encode()
    )
    attacks["wrong key"] = keys.rs256(_claims(), key=keys.other)
    attacks["tampered payload"] = _tampered(keys.rs256(_claims()))
    settings = {"jwt_algorithms": ["RS256"], "jwt_secret": None, "jwt_public_key": keys.public_pem}
    return AttackSet(settings, attacks, keys.rs256(_claims()))


def attack_set(family: str, keys: Keys) -> AttackSet:
    return hs256_set(keys) if family == "HS256" else rs256_set(keys)


REQUIRED_ATTACKS = {  # what issue 11 names; each family must carry all of them
    "alg none",
    "expired",
    "not yet valid",
    "wrong audience",
    "wrong issuer",
    "missing exp",
    "missing aud",
    "missing iss",
    "missing sub",
}
