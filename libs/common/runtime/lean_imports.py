"""What a service process refuses to import before it imports anything (DESIGN §12: five idle
services in 300 MiB, bench/memory).

httpx imports its command line (click, pygments, rich), structlog its pretty console (rich),
httpcore trio and uvicorn watchfiles (for ``--reload``), each only because they happen to be
installed (typer brings rich, uvicorn[standard] watchfiles, the dev tools trio). A service
writes JSON logs, runs on asyncio and never reloads: none of it is used, and it costs about
20 MiB per process. Each of those imports sits in ``try … except ImportError``, so refusing
the module leaves the library working without its extra.

PyJWT imports ``cryptography`` whenever it is installed (about 9 MiB resident: its Rust
extension, cffi), but only the public-key algorithms use it. A service whose user tokens are
HMAC-signed (``HERALD_JWT_ALGORITHMS`` all ``HS*``, the default; the settings refuse a mix of
HMAC and public-key algorithms) never does, so it refuses ``cryptography`` too: PyJWT then
imports without it (``jwt.algorithms.has_crypto`` false) and verifies HS256 the same way. Any
other algorithm, or settings that do not load, leave it importable.
"""

from __future__ import annotations

import sys

UNUSED_EXTRAS = ("rich", "httpx._main", "trio", "watchfiles")
# libs/common/security/auth.py's HMAC_ALGS (auth.py imports PyJWT: it cannot be imported from here)
HMAC_JWT_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})


def refuse_unused_extras() -> None:
    """Make ``import <extra>`` raise ImportError in this process (unless already imported)."""
    for name in UNUSED_EXTRAS:
        _refuse(name)


def refuse_unused_crypto() -> None:
    """For a service that verifies user tokens: refuse ``cryptography`` when the configured
    algorithms (environment and .env, read as the service's settings read them) are HMAC
    only. Call before the service's settings module imports PyJWT."""
    from pydantic import Field, ValidationError

    from libs.common.runtime.settings import HeraldSettings

    class JwtAlgorithms(HeraldSettings):
        jwt_algorithms: list[str] = Field(default=["HS256"])  # JwtSettings' default

    try:
        algorithms = set(JwtAlgorithms().jwt_algorithms)
    except ValidationError:  # the service's own settings report it
        return
    if algorithms and algorithms <= HMAC_JWT_ALGORITHMS:
        _refuse("cryptography")


def _refuse(name: str) -> None:
    sys.modules.setdefault(name, None)  # type: ignore[arg-type] # None = "not importable"
