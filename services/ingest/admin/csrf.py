"""CSRF defence for the admin: state-changing requests must come from the admin's own pages.

Two layers: the session cookie is SameSite=strict (a cross-site request carries no session),
and this middleware refuses unsafe methods — and sqladmin's action links, which are GETs that
change state — unless the browser says they came from this origin (``Origin``, else
``Referer``; ``Sec-Fetch-Site: cross-site`` is refused outright).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
ACTION_SEGMENT = "/action/"


def needs_check(method: str, path: str) -> bool:
    return method not in SAFE_METHODS or ACTION_SEGMENT in path


def same_origin(headers: Headers) -> bool:
    """True when the request provably comes from a page served by this host."""
    if headers.get("sec-fetch-site") == "cross-site":
        return False
    host = headers.get("host", "")
    source = headers.get("origin") or headers.get("referer")
    if not source or source == "null" or not host:
        return False
    return urlsplit(source).netloc == host


class SameOriginMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and needs_check(scope["method"], scope["path"])
            and not same_origin(Headers(scope=scope))
        ):
            response = PlainTextResponse(
                "refused: this admin request did not come from an admin page "
                "(Origin/Referer missing or foreign)",
                status_code=403,
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
