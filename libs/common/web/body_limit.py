"""A cap on request bodies for whole ASGI apps, enforced before anything buffers them.

FastAPI reads a JSON or form body completely before it resolves dependencies — before the
JWT or API-key check — and uvicorn sets no limit. Without this, anyone could make a service
hold a gigabyte per request in memory without credentials. A declared ``Content-Length``
over the cap is refused at once; a chunked body is counted as it streams and refused the
moment it passes the cap.

Routes that cap their own bodies with a precise answer (``POST /v1/events`` answers 413 with
its own limit, the mediator's check 422) are listed in ``own_limits`` and left alone.
"""

from __future__ import annotations

import json

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_MAX_BODY_BYTES = 1024 * 1024  # every user-API and admin body fits in a few KiB


class BodyTooLarge(HTTPException):
    """An HTTPException, so the app's own error handler answers 413 in its usual shape
    (FastAPI re-raises HTTPExceptions met while parsing a body, anything else becomes 400)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request body over {max_bytes} bytes")


class BodyLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int = DEFAULT_MAX_BODY_BYTES,
        own_limits: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.own_limits = own_limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.own_limits:
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        started, received = False, 0

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                nonlocal received
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if started:  # the app answered before reading it all; nothing more to say
                return
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        message = f"request body over {self.max_bytes} bytes"
        body = json.dumps(
            {"error": {"code": "too_large", "message": message, "details": None}}
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
