"""Admin password hashes: scrypt from the standard library, no extra dependency.

Format ``scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>``; the parameters travel with the hash so
they can be raised later without invalidating existing accounts. n=2**14, r=8 costs ~16 MiB
and ~50 ms per check: slow enough against guessing, fast enough for a login form.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SCHEME = "scrypt"
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
KEY_BYTES = 32
MAX_N = 2**20  # refuse hashes that would make one login cost ~1 GiB of memory
MAXMEM_BYTES = 64 * 1024 * 1024


class BadHash(ValueError):
    """The stored string is not a hash this module produced."""


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "$".join([SCHEME, str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(key)])


def parse_hash(stored: str) -> tuple[int, int, int, bytes, bytes]:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        raise BadHash("expected scrypt$<n>$<r>$<p>$<salt>$<hash> (see `herald admin-password`)")
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, key = (
            base64.b64decode(parts[4], validate=True),
            base64.b64decode(parts[5], validate=True),
        )
    except ValueError as exc:
        raise BadHash(f"malformed hash: {exc}") from exc
    if not (1 < n <= MAX_N and n & (n - 1) == 0 and 0 < r <= 32 and 0 < p <= 16 and key):
        raise BadHash("hash parameters out of range")
    return n, r, p, salt, key


def verify_password(password: str, stored: str) -> bool:
    """Constant-time comparison; a malformed stored hash never matches."""
    try:
        n, r, p, salt, key = parse_hash(stored)
    except BadHash:
        return False
    candidate = _scrypt(password, salt, n, r, p, len(key))
    return hmac.compare_digest(candidate, key)


# Checked against when the username is unknown, so both paths cost the same time.
DUMMY_HASH = (
    "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, size: int = KEY_BYTES) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=MAXMEM_BYTES, dklen=size
    )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
