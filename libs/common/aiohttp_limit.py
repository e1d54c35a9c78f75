"""An aiohttp server whose request heads are capped (libs/common/header_limit.py), for the
separate ``/metrics`` listener (libs/common/metrics.py).

aiohttp's parser limits lines (8 KiB) and headers (128), but after it refuses a request it goes
on reading: every further read fails the parser again and queues one more error, each holding
its read, until its queue is full (~16 MiB per connection, measured). Here a connection counts
what it received since it was last served; past MAX_HEADER_BYTES it gets a 431 and is closed,
whatever aiohttp's parser thinks of the bytes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from libs.common.header_limit import MAX_HEADER_BYTES, refusal_response

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]
_REFUSAL = refusal_response()


class _CountingRequestHandler(RequestHandler):
    unserved_bytes = 0  # received since the connection opened or was last served

    def data_received(self, data: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        self.unserved_bytes += len(data)
        if self.unserved_bytes > MAX_HEADER_BYTES:
            transport.write(_REFUSAL)
            transport.close()
            return
        super().data_received(data)


class _CountingServer(web.Server):
    def __call__(self) -> RequestHandler:
        return _CountingRequestHandler(self, loop=self._loop, **self._kwargs)


def capped_runner(handle: Handler, **kwargs: Any) -> web.ServerRunner:
    """A runner serving ``handle`` for every request (it routes by itself)."""

    async def served(request: web.BaseRequest) -> web.StreamResponse:
        protocol = request.protocol
        if isinstance(protocol, _CountingRequestHandler):
            protocol.unserved_bytes = 0  # a keep-alive scraper starts afresh each time
        return await handle(request)

    return web.ServerRunner(_CountingServer(served, **kwargs))
