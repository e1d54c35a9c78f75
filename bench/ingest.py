"""bench/ingest: events/s from AMQP publish to committed row (DESIGN §12 target: >= 3,000/s).

Ingest runs as its own process (`herald run ingest`, default settings), as in production, on a
throwaway PostgreSQL database and RabbitMQ vhost; the processor's queue is declared so every
nudge is really enqueued. This process publishes EVENTS envelopes with publisher confirms and
polls the events table; the figure is EVENTS / (last row committed - first publish).

Raw limit, in the same run and measured the same way: a bare aio-pika consumer process on a
quorum queue with the same prefetch, acking each message as it arrives (no parsing, no
database) — what the broker and the client library alone allow.

    .venv/bin/python -m bench.ingest
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

import aio_pika
import asyncpg

from bench._throwaway import raw_dsn, throwaway
from herald.emit import sample_event
from libs.common.bus.topology import EVENTS_EXCHANGE, INGEST_QUEUE, PROCESS_KEY, PROCESS_QUEUE
from libs.common.db.migrate import upgrade_async

EVENTS = 20_000
PREFETCH = 200  # HERALD_AMQP_PREFETCH's default, for both consumers
PUBLISH_WINDOW = 1_000  # publishes awaiting their confirm at once
POLL_S = 0.02
START_TIMEOUT_S = 60.0
RUN_TIMEOUT_S = 120.0
TARGET_PER_S = 3_000
RAW_QUEUE = "bench.raw"
API_KEY = "bench-producer-key-0123456789"
JWT_SECRET = "bench-jwt-secret-0123456789abcdefghijklmnop"


def _bodies(n: int) -> list[tuple[str, bytes]]:
    out = []
    for i in range(n):
        event = sample_event() | {"id": f"bench-{i}"}
        out.append((f"{event['source']}.{event['type']}", json.dumps(event).encode()))
    return out


async def _publish(url: str, exchange_name: str, bodies: list[tuple[str, bytes]]) -> float:
    """Publish everything with confirms; returns the wall-clock time of the first publish."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = (
            channel.default_exchange
            if exchange_name == ""
            else await channel.get_exchange(exchange_name)
        )
        started = time.time()
        for i in range(0, len(bodies), PUBLISH_WINDOW):
            await asyncio.gather(
                *(
                    exchange.publish(aio_pika.Message(body, delivery_mode=2), routing_key=key)
                    for key, body in bodies[i : i + PUBLISH_WINDOW]
                )
            )
        return started


# ---------------------------------------------------------------- the raw limit


def raw_consumer(url: str, queue: str, n: int) -> None:
    """Run in a subprocess: consume and ack n messages, print the wall-clock finish time."""

    async def go() -> float:
        connection = await aio_pika.connect(url)
        async with connection:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=PREFETCH)
            q = await channel.declare_queue(
                queue, durable=True, arguments={"x-queue-type": "quorum"}
            )
            done, seen = asyncio.Event(), 0

            async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                nonlocal seen
                await message.ack()
                seen += 1
                if seen >= n:
                    done.set()

            await q.consume(on_message)
            print("ready", flush=True)
            await done.wait()
            return time.time()

    print(f"finished {asyncio.run(go())}", flush=True)


async def _raw_rate(url: str, bodies: list[tuple[str, bytes]]) -> float:
    args = f"{url!r}, {RAW_QUEUE!r}, {len(bodies)}"
    code = f"from bench.ingest import raw_consumer; raw_consumer({args})"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=subprocess.PIPE, cwd=_repo()
    )
    try:
        assert proc.stdout is not None
        assert (await asyncio.wait_for(proc.stdout.readline(), START_TIMEOUT_S)).strip() == b"ready"
        started = await _publish(url, "", [(RAW_QUEUE, body) for _, body in bodies])
        line = await asyncio.wait_for(proc.stdout.readline(), RUN_TIMEOUT_S)
        finished = float(line.split()[1])
        return len(bodies) / (finished - started)
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


# ---------------------------------------------------------------- ingest


async def _ingest_rate(db_url: str, amqp_url: str, bodies: list[tuple[str, bytes]]) -> float:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HERALD_")},
        "HERALD_DATABASE_URL": db_url,
        "HERALD_AMQP_URL": amqp_url,
        "HERALD_AMQP_PREFETCH": str(PREFETCH),
        "HERALD_API_KEYS": json.dumps({API_KEY: "*"}),
        "HERALD_JWT_SECRET": JWT_SECRET,
        "HERALD_JWT_AUDIENCE": "bench",
        "HERALD_JWT_ISSUER": "bench",
        # the user API's inbox asks the mediator; nothing here reads the inbox
        "HERALD_MEDIATOR_URL": "http://127.0.0.1:9",
        "HERALD_MEDIATOR_API_KEY": "bench-mediator-key-0123456789",
    }
    command = "from herald.cli import main; main()"
    with tempfile.TemporaryDirectory() as workdir:  # no stray .env file
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", command, "run", "ingest", "--host", "127.0.0.1", "--port", "0",
            "--log-level", "WARNING", env=env, cwd=workdir,
        )  # fmt: skip
        try:
            await _wait_for_queue(amqp_url, INGEST_QUEUE)
            await _declare_process_queue(amqp_url)
            conn = await asyncpg.connect(raw_dsn(db_url))
            try:
                started = await _publish(amqp_url, EVENTS_EXCHANGE, bodies)
                finished = await _wait_rows(conn, len(bodies))
            finally:
                await conn.close()
            return len(bodies) / (finished - started)
        finally:
            if proc.returncode is None:
                proc.terminate()
            await proc.wait()


async def _wait_rows(conn: asyncpg.Connection, n: int) -> float:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        if await conn.fetchval("SELECT count(*) FROM events") >= n:
            return time.time()
        await asyncio.sleep(POLL_S)
    raise TimeoutError(f"ingest did not store {n} events within {RUN_TIMEOUT_S}s")


async def _wait_for_queue(url: str, queue: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            connection = await aio_pika.connect(url)
            async with connection:
                channel = await connection.channel()
                await channel.declare_queue(queue, passive=True)
                return
        except (aio_pika.exceptions.ChannelClosed, ConnectionError):
            await asyncio.sleep(0.2)
    raise TimeoutError(f"ingest did not declare {queue} within {START_TIMEOUT_S}s")


async def _declare_process_queue(url: str) -> None:
    from libs.common.bus.amqp import AmqpBus
    from libs.common.bus.base import QueueSpec
    from libs.common.bus.topology import WORK_EXCHANGE

    bus = AmqpBus(url)
    await bus.connect()
    try:
        await bus.declare(QueueSpec(PROCESS_QUEUE, bindings=[(WORK_EXCHANGE, PROCESS_KEY)]))
    finally:
        await bus.close()


# ---------------------------------------------------------------- plumbing


def _repo() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


async def run() -> dict[str, Any]:
    async with throwaway("ingest") as (db_url, amqp_url):
        await upgrade_async(db_url)
        bodies = _bodies(EVENTS)
        raw = await _raw_rate(amqp_url, bodies)
        ingest = await _ingest_rate(db_url, amqp_url, bodies)
    return {"events": EVENTS, "ingest_per_s": round(ingest), "raw_consume_ack_per_s": round(raw)}


def _report(result: dict[str, Any]) -> dict[str, Any]:
    ratio = result["ingest_per_s"] / result["raw_consume_ack_per_s"]
    result |= {"ratio": round(ratio, 2), "target_per_s": TARGET_PER_S}
    verdict = "meets" if result["ingest_per_s"] >= TARGET_PER_S else "below"
    print(
        f"ingest: {result['ingest_per_s']:,} events/s publish→committed row "
        f"({result['events']:,} events; {verdict} the {TARGET_PER_S:,}/s target)\n"
        f"raw:    {result['raw_consume_ack_per_s']:,} msgs/s aio-pika consume+ack, same run\n"
        f"ratio:  {ratio:.2f}"
    )
    return result


def main() -> dict[str, Any]:
    return _report(asyncio.run(run()))


if __name__ == "__main__":
    main()
