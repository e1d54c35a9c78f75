"""Non-blocking sends: one frame built once, written to every ready client's transport.

With compression off, a server's frame for a message is the same bytes for every client
(server frames are unmasked, RFC 6455 §5.1), so it is built once here and written straight
to each transport — what ``websockets.broadcast`` does per connection, minus re-framing the
message 10,000 times. Nothing awaits a client: one whose unsent backlog passes the limit is
dropped with a close code telling it to reconnect and resume.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from websockets.frames import Frame, Opcode
from websockets.protocol import State

from services.websocket import metrics, protocol
from services.websocket.registry import Client

OPEN = State.OPEN


class Pusher:
    def __init__(self, max_backlog_bytes: int) -> None:
        self.max_backlog_bytes = max_backlog_bytes
        self._closing: set[asyncio.Task[None]] = set()

    def push(self, clients: Iterable[Client], data: bytes, kind: str) -> int:
        """Write ``data`` (UTF-8 JSON) as one text frame to each client; returns how many."""
        wire = Frame(Opcode.TEXT, data).serialize(mask=False, extensions=[])
        limit, sent = self.max_backlog_bytes, 0
        for client in clients:
            # our own sends are whole messages, so nothing is ever mid-frame here
            if client.dropped or client.protocol.state is not OPEN:
                continue
            transport = client.transport
            if transport.get_write_buffer_size() > limit:
                self.drop(client, "fell too far behind; reconnect and resume")
                continue
            transport.write(wire)
            sent += 1
        metrics.MESSAGES_OUT.labels(kind).inc(sent)
        return sent

    def push_each(self, client: Client, frames: list[bytes], kind: str) -> None:
        for data in frames:
            if not self.push((client,), data, kind):
                return

    def drop(self, client: Client, reason: str) -> None:
        client.dropped = True
        metrics.DROPS.inc()
        self.close(client, protocol.CLOSE_TOO_SLOW, reason)

    def close(self, client: Client, code: int, reason: str) -> None:
        """Closing waits for the peer's close frame; never make the caller wait for it."""
        task = asyncio.create_task(client.conn.close(code, protocol.close_reason(reason)))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
