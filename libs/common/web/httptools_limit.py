"""uvicorn's httptools protocol with each request's head capped (libs/common/web/header_limit.py).

httptools (llhttp) has no limit of its own on a header block and uvicorn sets none: the parser
keeps every byte of an unfinished head. Two checks keep it to MAX_HEADER_BYTES:

* while a head is arriving, the bytes received are counted after each read, so an endless
  header is refused once the cap is passed: at most the cap plus one read (256 KiB) is held;
* when a head is complete, its parsed size is measured, so a head that arrived whole in one
  read is refused too, before the request reaches the application.

A refused request gets a 431 and the connection is closed. The body is not counted
(libs/common/web/body_limit.py caps it).
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from libs.common.web.header_limit import MAX_HEADER_BYTES, refusal_response

_REFUSAL = refusal_response()
_REQUEST_LINE_BYTES = 32  # "PATCH " + " HTTP/1.1\r\n" + the blank line, around the URL
_HEADER_LINE_BYTES = 4  # ": " and "\r\n" around a parsed name and value


class HeaderLimitedHttpTools(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # reading a head, or waiting for the next request
        self._head_bytes = 0
        self._message_ended = False  # a request ended within the current read
        self._refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        self._message_ended = False
        super().data_received(data)
        # A read in which a request ended and the next began is not counted (pipelining): it
        # holds the end of one request and the start of the next, never more than one read.
        if self._in_head and not self._message_ended:
            self._head_bytes += len(data)
            self._refused = self._refused or self._head_bytes > MAX_HEADER_BYTES
        if self._refused:
            self._refuse()

    def on_message_begin(self) -> None:
        if not self._refused:
            super().on_message_begin()
            self._in_head, self._head_bytes = True, 0

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        self._in_head = False
        if self._parsed_head_bytes() > MAX_HEADER_BYTES:
            self._refused = True  # the app never sees it; data_received answers
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._refused:
            super().on_message_complete()
            self._in_head, self._message_ended = True, True

    def _parsed_head_bytes(self) -> int:
        headers = sum(len(name) + len(value) + _HEADER_LINE_BYTES for name, value in self.headers)
        return _REQUEST_LINE_BYTES + len(self.url) + headers

    def _refuse(self) -> None:
        if self.transport.is_closing():
            return
        previous = self.cycle  # a pipelined request still answering: do not interleave
        if previous is None or previous.response_complete:
            self.transport.write(_REFUSAL)
        self.transport.close()
