"""A small HTTP/1.1 keep-alive load generator for bench/acl: pre-encoded requests over raw
asyncio connections, so the client costs far less than the servers it measures (httpx would
cost more per request than the server it is timing)."""

from __future__ import annotations

import asyncio
import time
from typing import Any


def post(path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Connection(asyncio.Protocol):
    """One keep-alive connection; ``request`` returns (status, body). Responses must carry
    Content-Length (uvicorn's do)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.transport: Any = None  # uvloop's transports are not asyncio.Transport subclasses

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self._buf += data
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self._buf[:end]).lower()
        start = head.find(b"content-length:") + len(b"content-length:")
        stop = head.find(b"\r\n", start)
        total = end + 4 + int(head[start : stop if stop > 0 else None])
        if len(self._buf) < total or self._waiter is None:
            return
        status, body = int(head[9:12]), bytes(self._buf[end + 4 : total])
        del self._buf[:total]
        self._waiter.set_result((status, body))

    def connection_lost(self, exc: Exception | None) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionError(f"connection lost: {exc}"))

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(raw)
        return await self._waiter


async def connect(port: int) -> Connection:
    loop = asyncio.get_running_loop()
    _, protocol = await loop.create_connection(Connection, "127.0.0.1", port)
    return protocol


async def throughput(port: int, raw: bytes, connections: int, seconds: float) -> tuple[int, float]:
    """Requests completed by ``connections`` closed loops within ``seconds``; every answer
    must be 200."""
    conns = [await connect(port) for _ in range(connections)]
    deadline = time.perf_counter() + seconds
    done = 0

    async def loop(conn: Connection) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            status, body = await conn.request(raw)
            if status != 200:
                raise RuntimeError(f"HTTP {status}: {body[:200]!r}")
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(loop(c) for c in conns))
    elapsed = time.perf_counter() - started
    for conn in conns:
        assert conn.transport is not None
        conn.transport.close()
    return done, elapsed
