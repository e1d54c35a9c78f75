"""Matching a presented API key (``X-API-Key``) to what it maps to.

Apart from ``libs/common/security/auth.py`` (JWT) so that a service holding only keys, the mediator,
does not load PyJWT and cryptography (about 10 MiB, DESIGN §12).
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import TypeVar

T = TypeVar("T")


def match_api_key(api_keys: Mapping[str, T], presented: str | None) -> T | None:
    """What a valid key maps to (its principal), compared in constant time; None otherwise."""
    if not presented:
        return None
    found = None
    for key, value in api_keys.items():
        if hmac.compare_digest(key.encode(), presented.encode()):
            found = value
    return found
