"""The signing keys behind ``HERALD_JWT_JWKS_URL``, following the issuer's key set.

Why not PyJWT's ``PyJWKClient``: with ``cache_keys`` a key removed from the set stays trusted
until restart (an LRU without expiry); every fetch starts a 30 s cooldown, so a key rotated in
just after one is refused for up to 30 s; it is synchronous behind one lock, so a hung key
server stalls every verification of the process. The rules here (docs/security.md):

* a fetched set is trusted for ``cache_s``; then it is fetched again, so a removed key stops
  working at most ``cache_s`` after the issuer drops it;
* a ``kid`` the set does not have triggers one refetch at once, so a rotated key works on its
  first token — unless another unknown ``kid`` already caused a refetch less than
  ``cooldown_s`` ago (junk ``kid``\\ s cannot make us hammer the key server);
* concurrent lookups share one fetch; after a failed fetch, none is tried for ``cooldown_s``;
* a failed fetch is ``KeySetUnavailable`` (our outage: 503 / websocket 1013), never "bad token".
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from typing import Any

import httpx
from jwt import PyJWKSet, PyJWTError

JWKS_TIMEOUT_S = 5.0  # a hung key server must not hold requests for long
MAX_JWKS_BYTES = 256 * 1024  # real key sets are a few KiB
PUBLIC_KEY_TYPES = frozenset({"RSA", "EC", "OKP"})  # never "oct": a JWKS carries no secrets


class KeySetUnavailable(Exception):
    """The key set could not be fetched or read."""


def parse_key_set(data: bytes) -> dict[str, Any]:
    """``kid`` → public key, for the signing keys of a JWKS document (first of a kid wins)."""
    try:
        document = json.loads(data)
    except ValueError as exc:
        raise KeySetUnavailable(f"key set is not JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise KeySetUnavailable("key set is not a JSON object")
    try:
        jwk_set = PyJWKSet.from_dict(document)  # skips keys it cannot use
    except PyJWTError as exc:
        raise KeySetUnavailable(f"key set unusable: {exc}") from exc
    keys: dict[str, Any] = {}
    for jwk in jwk_set.keys:
        if jwk.key_id and jwk.public_key_use in ("sig", None) and jwk.key_type in PUBLIC_KEY_TYPES:
            keys.setdefault(jwk.key_id, jwk.key)
    if not keys:
        raise KeySetUnavailable("key set has no public signing key with a kid")
    return keys


class JwksKeys:
    def __init__(
        self, url: str, cache_s: float, cooldown_s: float, timeout_s: float = JWKS_TIMEOUT_S
    ) -> None:
        self._url, self._timeout_s = url, timeout_s
        self._cache_s, self._cooldown_s = cache_s, cooldown_s
        self._keys: dict[str, Any] = {}
        self._fetched_at = -math.inf  # time.monotonic() of the last successful fetch
        self._failed_at = -math.inf  # ... of the last failed one
        self._unknown_kid_at = -math.inf  # ... of the last refetch an unknown kid caused
        self._inflight: asyncio.Task[None] | None = None

    async def key(self, kid: str) -> Any | None:
        """The public key for ``kid``, or None when the current set has none."""
        fetched = False
        if time.monotonic() - self._fetched_at >= self._cache_s:
            await self._refresh()
            fetched = True
        found = self._keys.get(kid)
        if found is not None or fetched:
            return found
        if self._inflight is not None:  # a refetch is under way: its set may hold the kid
            await self._refresh()
            return self._keys.get(kid)
        if time.monotonic() - self._unknown_kid_at < self._cooldown_s:
            if self._failed_at > self._fetched_at:  # cannot tell a new key from a bad one
                raise KeySetUnavailable("key server unreachable and kid unknown")
            return None
        self._unknown_kid_at = time.monotonic()
        await self._refresh()
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        """One fetch at a time; every caller waiting meanwhile gets its outcome."""
        if time.monotonic() - self._failed_at < self._cooldown_s:
            raise KeySetUnavailable("key server failed recently; not asking again yet")
        if self._inflight is None:
            self._inflight = asyncio.create_task(self._fetch())
            self._inflight.add_done_callback(self._fetch_done)
        await asyncio.shield(self._inflight)  # a cancelled request leaves the fetch running

    def _fetch_done(self, task: asyncio.Task[None]) -> None:
        self._inflight = None
        if not task.cancelled():
            task.exception()  # retrieved: no "never retrieved" warning if nobody waits

    async def _fetch(self) -> None:
        try:
            keys = parse_key_set(await self._download())
        except (httpx.HTTPError, KeySetUnavailable) as exc:
            self._failed_at = time.monotonic()
            if isinstance(exc, KeySetUnavailable):
                raise
            raise KeySetUnavailable(f"key server unreachable: {exc!r}") from exc
        self._keys, self._fetched_at = keys, time.monotonic()

    async def _download(self) -> bytes:
        body = bytearray()
        async with (
            httpx.AsyncClient(timeout=self._timeout_s, follow_redirects=False) as http,
            http.stream("GET", self._url, headers={"Accept": "application/json"}) as resp,
        ):
            if resp.status_code != 200:
                raise KeySetUnavailable(f"key server answered HTTP {resp.status_code}")
            async for chunk in resp.aiter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise KeySetUnavailable(f"key set larger than {MAX_JWKS_BYTES} bytes")
        return bytes(body)
