"""A cap on request headers for every HTTP service, enforced while they arrive (DESIGN §13).

A request's head (request line and headers) is read in full before any route, middleware, JWT
or API-key check runs, so without a cap anyone can make a service hold it in memory: uvicorn's
httptools parser buffered a 50 MB header and answered 200, in every service. Each server counts
the bytes of a request's head as they are received and, past ``MAX_HEADER_BYTES``, answers 431
and closes the connection before the request reaches the application:

* ingest, acl_mediator, processor and sender (uvicorn): ``uvicorn_options()``, for ``herald
  run`` and ``herald dev`` (libs/common/web/httptools_limit.py; h11's own limit where httptools is
  missing, which answers 400 and closes);
* the websocket gateway (``websockets``): services/websocket/header_limit.py;
* the separate ``/metrics`` listener (asyncio streams, HERALD_METRICS_PORT): the stream
  reader's limit (libs/common/runtime/metrics.py).
"""

from __future__ import annotations

import json
from typing import Any

# Request line + headers. A browser sends 1-4 KiB, a large JWT and cookies a few more; nginx
# accepts at most 4 x 8 KiB by default. 64 KiB leaves room for proxies' additions while a
# thousand slow clients hold at most 64 MiB.
MAX_HEADER_BYTES = 64 * 1024
REFUSAL_MESSAGE = f"request headers over {MAX_HEADER_BYTES} bytes"


def refusal_response() -> bytes:
    """The whole HTTP/1.1 response: 431, the JSON error shape of every Herald service."""
    error = {"code": "headers_too_large", "message": REFUSAL_MESSAGE, "details": None}
    body = json.dumps({"error": error}).encode()
    head = (
        "HTTP/1.1 431 Request Header Fields Too Large\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode() + body


def uvicorn_options() -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` / ``uvicorn.Config`` that cap request heads."""
    options: dict[str, Any] = {"h11_max_incomplete_event_size": MAX_HEADER_BYTES}
    try:
        from libs.common.web.httptools_limit import HeaderLimitedHttpTools
    except ImportError:  # pragma: no cover - httptools comes with uvicorn[standard]
        return {**options, "http": "h11"}
    return {**options, "http": HeaderLimitedHttpTools}
