"""The gateway's cap on a handshake request's head (libs/common/web/header_limit.py).

``websockets`` caps one header line at 8 KiB and a request at 128 headers: up to 1 MiB held per
connection before the handshake can even be refused, and connections waiting for their
handshake are not counted by ``HERALD_WS_MAX_CONNECTIONS``. Here the bytes of the opening
request are counted as they arrive, before the library buffers them; past MAX_HEADER_BYTES the
client gets the 431 the library itself sends for an over-long line, and the connection closes.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import SecurityError

from libs.common.web.header_limit import MAX_HEADER_BYTES, REFUSAL_MESSAGE


class HeaderLimitedConnection(ServerConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0

    def data_received(self, data: bytes) -> None:
        if self.request is None:  # still reading the opening request
            if self.transport.is_closing():
                return  # refused already
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEADER_BYTES:
                self._refuse()
                return
        super().data_received(data)

    def _refuse(self) -> None:
        status = HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
        self.protocol.handshake_exc = SecurityError(REFUSAL_MESSAGE)
        response = self.protocol.reject(status, f"{REFUSAL_MESSAGE}\n")
        self.protocol.send_response(response)  # the sans-I/O side: the response, then EOF
        self.send_data()
        self.transport.close()  # the handshake then ends with the connection (server.py)
