"""The raw limit for bench/websocket: a bare ``websockets`` server, same options as the
gateway, that only holds connections and, on command, writes one ready-made frame to all.

The broadcast is the simplest fast one: the frame is built once and its bytes written to
each open connection's transport (server frames are unmasked, so every client gets the same
bytes). ``websockets.broadcast`` re-frames the message for every connection, which made the
raw limit slower than the gateway it is compared with (which writes prepared bytes).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from multiprocessing.connection import Connection

import uvloop
from websockets.asyncio.server import ServerConnection, serve
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from libs.common.schemas.accepted import AcceptedEvent
from services.websocket import protocol


def broadcast(conns: set[ServerConnection], data: bytes) -> None:
    """One text frame, built once, written to every open connection."""
    wire = Frame(Opcode.TEXT, data).serialize(mask=False, extensions=[])
    for conn in conns:
        if conn.protocol.state is State.OPEN:
            conn.transport.write(wire)


def event_frame(seq: int) -> bytes:
    """The same frame the gateway sends for the bench's event, stamped now."""
    data = {
        "id": f"e-{seq}",
        "type": "tender.updated",
        "entity": {"id": "T-1", "attributes": {"status": "open"}},
        "payload": {"title": f"{time.time():.6f}"},
    }
    event = AcceptedEvent(
        event_id=str(uuid.uuid4()), tenant="default", at=datetime.now(UTC), body={}
    )
    return protocol.entity_event("tender", {"tender_id": "T-1"}, data, event)


async def serve_bare(pipe: Connection) -> None:
    conns: set[ServerConnection] = set()

    async def hold(conn: ServerConnection) -> None:
        conns.add(conn)
        try:
            await conn.wait_closed()
        finally:
            conns.discard(conn)

    server = await serve(
        hold,
        "127.0.0.1",
        0,
        compression=None,
        max_queue=4,
        ping_interval=None,
        close_timeout=3,
        backlog=4096,
    )
    pipe.send(server.sockets[0].getsockname()[1])
    loop = asyncio.get_running_loop()
    while True:
        cmd, arg = await loop.run_in_executor(None, pipe.recv)
        if cmd == "broadcast":
            count, interval_s = arg
            spent = 0.0
            for seq in range(count):
                started = time.perf_counter()
                broadcast(conns, event_frame(seq))
                spent += time.perf_counter() - started
                await asyncio.sleep(interval_s)
            pipe.send((len(conns), spent / count * 1000))
        elif cmd == "exit":
            server.close()
            pipe.send(True)
            return


def main(pipe: Connection) -> None:
    uvloop.run(serve_bare(pipe))
