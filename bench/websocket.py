"""bench/websocket: the gateway (DESIGN §12), beside a bare ``websockets`` server, same run.

1. Connections held by one gateway process (``herald run websocket``), every one authenticated
   (its own user's JWT) and subscribed: RSS per connection. Raw limit: the bare server holding
   the same number of connections. Target ≥ 15,000 at ≤ 25 KiB each.
2. Fan-out at 10,000 connections: deliveries/s for events published to RabbitMQ, projected and
   pushed by the gateway, beside the bare server writing the same frame, built once, to every
   connection's transport (bench/ws_bare.py). Target ≥ 50%.
3. p99 from publish to receipt at 10,000 connections, events paced. Target ≤ 100 ms.

Servers and clients are separate processes (20,000 open files per process); the clients spread
their source addresses over 127.0.0.x and, while events are measured, read in 2 ms batches
(bench/ws_clients.py says why). Loopback only; every process is ended at the end. The load
average is printed at the start and the end: the box is shared, and the figures move with it.

    .venv/bin/python -m bench.websocket
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
import urllib.request
import uuid
from contextlib import ExitStack
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench import ws_bare, ws_clients
from bench.ws_procs import Clients, child, gateway_process, pct, publish, rss_kib
from libs.common.db.migrate import upgrade
from tests.infra import (
    TEST_DATABASE_URL,
    create_database,
    create_vhost,
    delete_vhost,
    drop_database,
    with_database,
)

CONNECTIONS = 15_000
FANOUT_CONNECTIONS = 10_000
CLIENT_PROCS = 4
BURST_EVENTS = 30  # throughput: published back to back
PACED_EVENTS = 16  # latency: one every PACE_S (below saturation)
PACE_S = 0.5
SETTLE_S = 2.0  # let the allocator settle before reading RSS
FEEDS_YAML = """feeds:
  tender:
    sources: ["tenders.tender.*"]
    params: {tender_id: entity.id}
    fields: [id, type, entity.id, entity.attributes.status, payload.title]
    authorize: none
"""
TARGETS = {"connections": 15_000, "kib_per_conn": 25.0, "share": 0.5, "p99_ms": 100.0}


def phase_connections(
    clients: Clients, gw: tuple[int, int], bare: tuple[Any, int, int]
) -> dict[str, Any]:
    (gw_port, gw_pid), (_, bare_port, bare_pid) = gw, bare
    gw_base, bare_base = rss_kib(gw_pid), rss_kib(bare_pid)
    held, connect_s = clients.open("gw", gw_port, CONNECTIONS, token=True)
    time.sleep(SETTLE_S)
    gw_kib = (rss_kib(gw_pid) - gw_base) / max(held, 1)
    bare_held, _ = clients.open("bare", bare_port, CONNECTIONS, token=False)
    time.sleep(SETTLE_S)
    bare_kib = (rss_kib(bare_pid) - bare_base) / max(bare_held, 1)
    print(
        f"connections: {held:,} authenticated+subscribed in {connect_s:.1f} s "
        f"({held / connect_s:,.0f}/s); gateway RSS {gw_kib:.1f} KiB/connection "
        f"(base {gw_base / 1024:.0f} MiB) | raw limit: bare websockets {bare_kib:.1f} "
        f"KiB/connection for {bare_held:,} | ratio {gw_kib / bare_kib:.2f}x "
        f"(target ≥ {TARGETS['connections']:,} at ≤ {TARGETS['kib_per_conn']:.0f} KiB)"
    )
    return {
        "ws_connections": held,
        "ws_connect_per_s": round(held / connect_s),
        "ws_rss_kib_per_connection": round(gw_kib, 2),
        "bare_rss_kib_per_connection": round(bare_kib, 2),
    }


def phase_fanout(clients: Clients, amqp_url: str, bare_pipe: Connection) -> dict[str, Any]:
    per = (CONNECTIONS - FANOUT_CONNECTIONS) // len(clients.pipes)
    held = sum(clients.same("close", "gw", per))
    bare_held = sum(clients.same("close", "bare", per))
    expected = held * BURST_EVENTS
    clients.same("reset", "gw")
    started = asyncio.run(publish(amqp_url, BURST_EVENTS, 0))
    got, last = clients.wait_events("gw", expected)
    gw_rate = got / (last - started)
    clients.same("reset", "bare")
    started = time.time()
    bare_pipe.send(("broadcast", (BURST_EVENTS, 0)))
    bare_pipe.recv()
    bare_got, bare_last = clients.wait_events("bare", bare_held * BURST_EVENTS)
    bare_rate = bare_got / (bare_last - started)
    print(
        f"fan-out at {held:,} connections: {gw_rate:,.0f} deliveries/s ({got:,}/{expected:,}) "
        f"| raw limit: bare broadcast {bare_rate:,.0f}/s ({bare_got:,}) "
        f"| ratio {gw_rate / bare_rate:.2f} (target ≥ {TARGETS['share']:.0%})"
    )
    return {
        "fanout_connections": held,
        "fanout_deliveries_per_s": round(gw_rate),
        "bare_broadcast_deliveries_per_s": round(bare_rate),
        "fanout_ratio": round(gw_rate / bare_rate, 3),
        "fanout_complete": got == expected,
    }


def push_seconds(port: int) -> tuple[float, float]:
    """The gateway's own (sum, count) of event → last frame written."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    values = dict.fromkeys(("sum", "count"), 0.0)
    for line in text.splitlines():
        for key in values:
            if line.startswith(f"herald_ws_event_push_seconds_{key} "):
                values[key] = float(line.split()[1])
    return values["sum"], values["count"]


def phase_latency(
    clients: Clients, amqp_url: str, bare_pipe: Connection, gw_port: int
) -> dict[str, Any]:
    held = sum(clients.same("close", "gw", 0))
    clients.same("reset", "gw")
    sum0, count0 = push_seconds(gw_port)
    asyncio.run(publish(amqp_url, PACED_EVENTS, PACE_S))
    got, _ = clients.wait_events("gw", held * PACED_EVENTS)
    sum1, count1 = push_seconds(gw_port)
    server_ms = (sum1 - sum0) / max(count1 - count0, 1) * 1000
    lat = clients.latencies("gw")
    clients.same("reset", "bare")
    bare_pipe.send(("broadcast", (PACED_EVENTS, PACE_S)))
    bare_held, bare_ms = bare_pipe.recv()
    clients.wait_events("bare", bare_held * PACED_EVENTS)
    bare_lat = clients.latencies("bare")
    p50, p99, bare_p99 = pct(lat, 0.5), pct(lat, 0.99), pct(bare_lat, 0.99)
    print(
        f"publish→browser at {held:,} connections, {PACED_EVENTS} events every {PACE_S * 1000:.0f}"
        f" ms: p50 {p50:.1f} ms, p99 {p99:.1f} ms over {got:,} receipts (AMQP hop included) "
        f"| raw limit: bare broadcast→receipt p99 {bare_p99:.1f} ms "
        f"(target p99 ≤ {TARGETS['p99_ms']:.0f} ms)\n  server side only, one event to all "
        f"{held:,}: gateway queue → last frame written mean {server_ms:.1f} ms | bare "
        f"broadcast call mean {bare_ms:.1f} ms"
    )
    return {
        "latency_p50_ms": round(p50, 1),
        "latency_p99_ms": round(p99, 1),
        "bare_latency_p99_ms": round(bare_p99, 1),
        "latency_receipts": got,
        "gateway_push_mean_ms": round(server_ms, 1),
        "bare_broadcast_call_mean_ms": round(bare_ms, 1),
    }


def phase_workers(
    clients: Clients, amqp_url: str, feeds: Path, database_url: str
) -> dict[str, Any]:
    """The same latency with `--workers 2` on one port: how the gateway scales on this box."""
    clients.same("close", "gw", CONNECTIONS)  # the first gateway's clients leave
    clients.same("close", "bare", CONNECTIONS)
    with gateway_process(amqp_url, feeds, database_url, workers=2) as (port, _):
        held, _ = clients.open("gw2", port, FANOUT_CONNECTIONS, token=True)
        clients.same("reset", "gw2")
        asyncio.run(publish(amqp_url, PACED_EVENTS, PACE_S))
        got, _ = clients.wait_events("gw2", held * PACED_EVENTS)
        lat = clients.latencies("gw2")
        clients.same("close", "gw2", CONNECTIONS)
    p50, p99 = pct(lat, 0.5), pct(lat, 0.99)
    print(
        f"publish→browser at {held:,} connections over `--workers 2`: p50 {p50:.1f} ms, "
        f"p99 {p99:.1f} ms over {got:,} receipts (target p99 ≤ {TARGETS['p99_ms']:.0f} ms)"
    )
    return {"workers2_latency_p50_ms": round(p50, 1), "workers2_latency_p99_ms": round(p99, 1)}


def main() -> dict[str, Any]:
    name = f"herald_bench_ws_{uuid.uuid4().hex[:8]}"
    amqp_url = asyncio.run(create_vhost(name))
    asyncio.run(create_database(name))
    database_url = with_database(TEST_DATABASE_URL, name)
    upgrade(database_url)
    results: dict[str, Any] = {"load_average_start": _load()}
    try:
        with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
            feeds = Path(tmp) / "feeds.yaml"
            feeds.write_text(FEEDS_YAML)
            gw = stack.enter_context(gateway_process(amqp_url, feeds, database_url))
            bare_pipe, bare_pid = stack.enter_context(child(ws_bare.main))
            bare_port = bare_pipe.recv()
            procs = [stack.enter_context(child(ws_clients.main)) for _ in range(CLIENT_PROCS)]
            clients = Clients([pipe for pipe, _ in procs])
            try:
                results |= phase_connections(clients, gw, (bare_pipe, bare_port, bare_pid))
                results |= phase_fanout(clients, amqp_url, bare_pipe)
                results |= phase_latency(clients, amqp_url, bare_pipe, gw[0])
                results |= phase_workers(clients, amqp_url, feeds, database_url)
            finally:
                clients.same("exit", "gw")
                bare_pipe.send(("exit", None))
                bare_pipe.recv()
    finally:
        asyncio.run(delete_vhost(name))
        asyncio.run(drop_database(name))
    results["load_average_end"] = _load()
    print(f"load average: {results['load_average_start']} at the start, {_load()} at the end")
    return results


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    main()
