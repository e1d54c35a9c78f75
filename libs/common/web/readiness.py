"""What ``/readyz`` runs and answers, for every service (DESIGN §14), whatever serves it:
FastAPI (``health.py``), plain Starlette (``ops_app.py``) or the websocket gateway.

No web framework here: the gateway imports it and serves HTTP with ``websockets`` alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

Check = tuple[str, Callable[[], Awaitable[None]]]
READY_TIMEOUT_S = 2.0


async def run_checks(checks: Sequence[Check]) -> tuple[bool, dict[str, str]]:
    results: dict[str, str] = {}
    for name, check in checks:
        try:
            await asyncio.wait_for(check(), READY_TIMEOUT_S)
            results[name] = "ok"
        except Exception as exc:
            results[name] = f"error: {type(exc).__name__}: {exc}"[:300]
    return all(v == "ok" for v in results.values()), results


async def readiness(checks: Sequence[Check]) -> tuple[int, dict[str, Any]]:
    """The status code and JSON body of ``/readyz``."""
    ok, results = await run_checks(checks)
    return (200 if ok else 503), {"status": "ok" if ok else "unavailable", "checks": results}
