"""User tokens (JWT) and service API keys, shared by the user API and the websocket gateway.

Verification always names the accepted algorithms explicitly (``alg: none`` and algorithm
confusion are refused by construction), and requires ``exp``, ``aud`` and ``iss``.
"""

from __future__ import annotations

import asyncio
import hmac
from dataclasses import dataclass
from typing import Any

import jwt
from pydantic import Field, model_validator

from libs.common.errors import HeraldError
from libs.common.settings import HeraldSettings

HMAC_ALGS = {"HS256", "HS384", "HS512"}
ASYMMETRIC_ALGS = {"RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA"}
LEEWAY_S = 10  # clock skew between the token issuer and us
JWKS_CACHE_S = 300
JWKS_TIMEOUT_S = 5  # PyJWT's default is 30 s: a hung key server would pin a thread per request


class AuthError(HeraldError):
    """The token or key was refused; ``reason`` is safe to show the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class KeysUnavailable(AuthError):
    """The key server (JWKS URL) could not be reached: our outage, not a bad token."""


class JwtSettings(HeraldSettings):
    jwt_algorithms: list[str] = Field(default=["HS256"], min_length=1)
    jwt_secret: str | None = Field(default=None, min_length=32)
    jwt_public_key: str | None = None
    jwt_jwks_url: str | None = None
    jwt_audience: str
    jwt_issuer: str
    jwt_user_claim: str = "sub"
    jwt_tenant_claim: str = "tenant"

    @model_validator(mode="after")
    def _one_key_per_family(self) -> JwtSettings:
        algs = set(self.jwt_algorithms)
        unknown = algs - HMAC_ALGS - ASYMMETRIC_ALGS
        if unknown:
            raise ValueError(f"HERALD_JWT_ALGORITHMS: unsupported {sorted(unknown)}")
        if algs & HMAC_ALGS and algs & ASYMMETRIC_ALGS:
            # mixing families is how "HS256 signed with the RS256 public key" gets accepted
            raise ValueError("HERALD_JWT_ALGORITHMS must not mix HMAC and public-key algorithms")
        if algs & HMAC_ALGS and not self.jwt_secret:
            raise ValueError("HERALD_JWT_SECRET is required for HMAC algorithms")
        if algs & ASYMMETRIC_ALGS and not (self.jwt_public_key or self.jwt_jwks_url):
            raise ValueError("HERALD_JWT_PUBLIC_KEY or HERALD_JWT_JWKS_URL is required")
        return self


@dataclass(frozen=True)
class Principal:
    tenant: str
    user_id: str
    claims: dict[str, Any]


class TokenVerifier:
    def __init__(self, settings: JwtSettings) -> None:
        self._s = settings
        self._jwks = (
            jwt.PyJWKClient(
                settings.jwt_jwks_url,
                cache_keys=True,
                lifespan=JWKS_CACHE_S,
                timeout=JWKS_TIMEOUT_S,
            )
            if settings.jwt_jwks_url
            else None
        )

    def _key(self, token: str) -> Any:
        if set(self._s.jwt_algorithms) & HMAC_ALGS:
            return self._s.jwt_secret
        if self._jwks is not None:
            try:
                return self._jwks.get_signing_key_from_jwt(token).key
            except jwt.PyJWKClientConnectionError as exc:
                raise KeysUnavailable(f"signing keys unavailable: {exc}") from exc
            except jwt.PyJWKClientError as exc:
                raise AuthError(f"no signing key: {exc}") from exc
        return self._s.jwt_public_key

    def verify(self, token: str) -> Principal:
        """Synchronous; JWKS fetches (cached) may block, so async callers use ``averify``."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=self._key(token),
                algorithms=self._s.jwt_algorithms,
                audience=self._s.jwt_audience,
                issuer=self._s.jwt_issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "aud", "iss", self._s.jwt_user_claim]},
            )
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        user = claims.get(self._s.jwt_user_claim)
        tenant = claims.get(self._s.jwt_tenant_claim, "default")
        if not isinstance(user, str) or not user or not isinstance(tenant, str) or not tenant:
            raise AuthError("invalid token: user or tenant claim is not a non-empty string")
        return Principal(tenant=tenant, user_id=user, claims=claims)

    async def averify(self, token: str) -> Principal:
        if self._jwks is None:
            return self.verify(token)
        return await asyncio.to_thread(self.verify, token)


def issue_token(
    settings: JwtSettings,
    user_id: str,
    tenant: str = "default",
    ttl_s: int = 3600,
    **extra: Any,
) -> str:
    """For ``herald dev`` and tests (HMAC only): a token our own verifier accepts."""
    import time

    if not settings.jwt_secret:
        raise AuthError("issuing tokens needs HERALD_JWT_SECRET")
    now = int(time.time())
    claims = {
        settings.jwt_user_claim: user_id,
        settings.jwt_tenant_claim: tenant,
        "aud": settings.jwt_audience,
        "iss": settings.jwt_issuer,
        "iat": now,
        "exp": now + ttl_s,
        **extra,
    }
    return jwt.encode(claims, settings.jwt_secret, algorithm=settings.jwt_algorithms[0])


def match_api_key(api_keys: dict[str, str], presented: str | None) -> str | None:
    """The caller's name for a valid key, compared in constant time; None otherwise."""
    if not presented:
        return None
    found = None
    for key, name in api_keys.items():
        if hmac.compare_digest(key.encode(), presented.encode()):
            found = name
    return found
