"""User tokens (JWT) and service API keys, shared by the user API and the websocket gateway.

Verification always names the accepted algorithms explicitly (``alg: none`` and algorithm
confusion are refused by construction), and requires ``exp``, ``aud`` and ``iss``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import jwt
from pydantic import Field, model_validator

from libs.common.runtime.errors import HeraldError, TransientError
from libs.common.runtime.settings import HeraldSettings
from libs.common.security.api_keys import match_api_key as match_api_key  # where it used to live
from libs.common.security.jwks import JwksKeys, KeySetUnavailable

HMAC_ALGS = {"HS256", "HS384", "HS512"}
ASYMMETRIC_ALGS = {"RS256", "RS384", "RS512", "ES256", "ES384", "PS256", "EdDSA"}
LEEWAY_S = 10  # clock skew between the token issuer and us
# A removed key works at most this long; each fetch is one small GET per process.
JWKS_CACHE_S = 300.0
# Unknown kids refetch at most this often: junk kids cost the key server 1 GET / 5 s / process.
JWKS_REFETCH_COOLDOWN_S = 5.0


class AuthError(HeraldError):
    """The token or key was refused; ``reason`` is safe to show the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class KeysUnavailable(AuthError):
    """The key server (JWKS URL) or the tenant registry could not be read: our outage, not a
    bad token."""


class TenantCheck(Protocol):
    """Which tenants may be served (libs/common/tenancy/tenants.py): why not, or None."""

    async def refusal(self, tenant: str) -> str | None: ...


class JwtSettings(HeraldSettings):
    jwt_algorithms: list[str] = Field(default=["HS256"], min_length=1)
    jwt_secret: str | None = Field(default=None, min_length=32)
    jwt_public_key: str | None = None
    jwt_jwks_url: str | None = None
    jwt_jwks_cache_s: float = Field(
        default=JWKS_CACHE_S,
        gt=0,
        le=86_400,
        description="how long a fetched JWKS is trusted: a key removed from it stops working "
        "at most this long after",
    )
    jwt_jwks_refetch_cooldown_s: float = Field(
        default=JWKS_REFETCH_COOLDOWN_S,
        ge=0,
        le=3_600,
        description="least time between two JWKS refetches caused by unknown kids, and after "
        "a failed fetch",
    )
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
    """``tenants``: a token of a tenant that is not registered or is disabled is refused
    (DESIGN §15); without it (tools, tests of the token rules alone) the claim is trusted."""

    def __init__(self, settings: JwtSettings, tenants: TenantCheck | None = None) -> None:
        self._s = settings
        self._tenants = tenants
        self._jwks = (
            JwksKeys(
                settings.jwt_jwks_url,
                cache_s=settings.jwt_jwks_cache_s,
                cooldown_s=settings.jwt_jwks_refetch_cooldown_s,
            )
            if settings.jwt_jwks_url
            else None
        )

    async def _key(self, token: str) -> Any:
        if set(self._s.jwt_algorithms) & HMAC_ALGS:
            return self._s.jwt_secret
        if self._jwks is None:
            return self._s.jwt_public_key
        try:
            kid = jwt.get_unverified_header(token).get("kid")  # a non-string kid raises
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        if not kid:
            raise AuthError("invalid token: no kid in the header (a JWKS URL is configured)")
        try:
            key = await self._jwks.key(kid)
        except KeySetUnavailable as exc:
            raise KeysUnavailable(f"signing keys unavailable: {exc}") from exc
        if key is None:
            raise AuthError(f"no signing key: the key set has no kid {kid[:64]!r}")
        return key

    async def averify(self, token: str) -> Principal:
        principal = self._decode(token, await self._key(token))
        if self._tenants is not None:
            await self._check_tenant(self._tenants, principal.tenant)
        return principal

    @staticmethod
    async def _check_tenant(tenants: TenantCheck, tenant: str) -> None:
        try:
            why = await tenants.refusal(tenant)
        except TransientError as exc:
            raise KeysUnavailable(f"tenant registry unavailable: {exc}") from exc
        if why is not None:
            raise AuthError(f"invalid token: {why}")

    def _decode(self, token: str, key: Any) -> Principal:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
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
