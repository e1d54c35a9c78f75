"""Load for bench/websocket: a process holding thousands of raw websocket client connections.

A minimal RFC 6455 client on asyncio protocols (handshake, masked text frames out, unmasked
frames in) so the clients cost far less CPU and memory than the server they measure. Each
connection binds a source address from 127.0.0.x so one process can open more connections
than one source address has ephemeral ports. Driven over a multiprocessing pipe. While events
are measured the reads are batched (``read_in_batches``) and a frame that arrives whole is
handled without copying it, so the clients' wake-ups and parsing take less of the 2 cores the
server shares with them.
"""

from __future__ import annotations

import asyncio
import base64
import os
import struct
import time
from multiprocessing.connection import Connection
from typing import Any, cast

import jwt
import uvloop

OPEN_CONCURRENCY = 200
READ_BATCH_S = 0.002


class Client(asyncio.Protocol):
    __slots__ = (
        "_ready_after",
        "buf",
        "closed",
        "frames",
        "owner",
        "ready",
        "transport",
        "upgraded",
        "waiting",
    )

    def __init__(self, owner: Pool, ready_after: int) -> None:
        self.owner, self.buf, self.frames = owner, b"", 0
        self.upgraded, self.closed, self.waiting = False, False, True
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self._ready_after = ready_after

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        if not self.buf and self.upgraded:
            start = _whole_frame(data)
            if start:  # the common case, one whole data frame per read: no copies
                self.frames += 1
                self.owner.on_frame(data, start)
                if self.waiting:
                    self._maybe_ready()
                return
        self.buf += data
        if not self.upgraded:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status, self.buf = self.buf[:end], self.buf[end + 4 :]
            if b" 101 " not in status.split(b"\r\n", 1)[0]:
                self._fail(status.split(b"\r\n", 1)[0].decode())
                return
            self.upgraded = True
            self._maybe_ready()
        self._frames()

    def _frames(self) -> None:
        buf = self.buf
        while len(buf) >= 2:
            opcode, length, start = buf[0] & 0x0F, buf[1] & 0x7F, 2
            if length == 126:
                if len(buf) < 4:
                    break
                length, start = struct.unpack_from("!H", buf, 2)[0], 4
            elif length == 127:
                if len(buf) < 10:
                    break
                length, start = struct.unpack_from("!Q", buf, 2)[0], 10
            if len(buf) < start + length:
                break
            payload, buf = buf[start : start + length], buf[start + length :]
            if opcode == 8:
                self.closed = True
                self._fail(f"closed {payload[:2].hex()} {payload[2:].decode(errors='replace')}")
            else:
                self.frames += 1
                self.owner.on_frame(payload, 0)
                self._maybe_ready()
        self.buf = buf

    def _maybe_ready(self) -> None:
        if self.waiting and self.frames >= self._ready_after:
            self.waiting = False
            self.ready.set_result(None)

    def _fail(self, why: str) -> None:
        if self.waiting:
            self.waiting = False
            self.ready.set_exception(ConnectionError(why))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(f"connection lost: {exc}")

    def send_text(self, text: bytes) -> None:
        """Client frames must be masked (RFC 6455 §5.3); a zero mask is a valid mask."""
        assert self.transport is not None and len(text) < 126
        self.transport.write(bytes([0x81, 0x80 | len(text)]) + b"\0\0\0\0" + text)


class Pool:
    def __init__(self) -> None:
        self.clients: list[Client] = []
        self.events = 0
        self.latencies: list[float] = []
        self.last_at = 0.0

    def on_frame(self, frame: bytes, start: int) -> None:
        """The bench's events carry their send time (epoch seconds) as the title."""
        at = frame.find(b'"title":"', start)
        if at < 0:
            return
        now = time.time()
        at += 9
        self.events += 1
        self.latencies.append(now - float(frame[at : frame.index(b'"', at)]))
        self.last_at = now

    async def open(self, spec: dict[str, Any]) -> tuple[int, list[str]]:
        gate = asyncio.Semaphore(OPEN_CONCURRENCY)
        errors: list[str] = []

        async def one(i: int) -> None:
            async with gate:
                try:
                    self.clients.append(await _connect(self, spec, i))
                except (OSError, ConnectionError, TimeoutError) as exc:
                    errors.append(repr(exc))

        await asyncio.gather(*(one(i) for i in range(spec["count"])))
        return len(self.clients), errors[:5]

    def close(self, count: int) -> None:
        for client in self.clients[:count]:
            if client.transport is not None:
                client.transport.abort()
        self.clients = self.clients[count:]


def _whole_frame(data: bytes) -> int:
    """Where the payload starts if ``data`` is exactly one unfragmented, unmasked server text
    or binary frame, else 0."""
    if len(data) < 2 or data[0] not in (0x81, 0x82):
        return 0
    length = data[1]
    if length < 126:
        start = 2
    elif length == 126 and len(data) >= 4:
        length, start = (data[2] << 8) | data[3], 4
    else:
        return 0
    return start if len(data) == start + length else 0


def _request(spec: dict[str, Any], i: int) -> bytes:
    path = "/"
    if spec.get("secret"):
        claims = {"sub": f"{spec['user_prefix']}{i}", "tenant": "default", **spec["claims"]}
        path = "/?token=" + jwt.encode(claims, spec["secret"], algorithm="HS256")
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{spec['port']}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Origin: {spec['origin']}\r\n\r\n"
    ).encode()


async def _connect(pool: Pool, spec: dict[str, Any], i: int) -> Client:
    loop = asyncio.get_running_loop()
    source = spec["sources"][i % len(spec["sources"])]
    subscribe = spec.get("subscribe")
    ready_after = 2 if subscribe else 0  # welcome, then the subscription's ack
    transport, client = await asyncio.wait_for(
        loop.create_connection(
            lambda: Client(pool, ready_after), "127.0.0.1", spec["port"], local_addr=(source, 0)
        ),
        30,
    )
    client.transport = transport  # uvloop may call connection_made a moment later
    transport.write(_request(spec, i))
    if subscribe:
        client.send_text(subscribe.encode())
    await asyncio.wait_for(client.ready, 20)
    return client


async def read_in_batches() -> None:
    """While events are measured: block the process READ_BATCH_S between loop passes, so
    frames arriving meanwhile are read in one pass instead of each waking the process.

    On loopback the server's write pays for waking its reader (the receiving side runs in
    the sender's system call); a browser on its own machine costs the server nothing of the
    kind. Time spent asleep here only adds to the latencies measured, never hides any.
    """
    while True:
        time.sleep(READ_BATCH_S)
        await asyncio.sleep(0)


async def serve(pipe: Connection) -> None:
    """Commands are (name, group, argument); a group is the connections to one server.
    Reads are batched (``read_in_batches``) from a ``reset`` until the next open or close."""
    pools: dict[str, Pool] = {}
    loop = asyncio.get_running_loop()
    batching: asyncio.Task[None] | None = None
    while True:
        cmd, group, arg = await loop.run_in_executor(None, pipe.recv)
        pool = pools.setdefault(group, Pool())
        if batching is not None and cmd in ("open", "close", "exit"):
            batching.cancel()
            batching = None
        if cmd == "open":
            pipe.send(await pool.open(arg))
        elif cmd == "close":
            pool.close(arg)
            pipe.send(len(pool.clients))
        elif cmd == "reset":
            pool.events, pool.latencies, pool.last_at = 0, [], 0.0
            if batching is None:
                batching = asyncio.create_task(read_in_batches())
            pipe.send(True)
        elif cmd == "stats":
            pipe.send((pool.events, pool.last_at, pool.latencies if arg else []))
        elif cmd == "exit":
            for each in pools.values():
                each.close(len(each.clients))
            pipe.send(True)
            return


def main(pipe: Connection) -> None:
    uvloop.run(serve(pipe))
