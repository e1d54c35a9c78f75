"""bench/acl: the permissions mediator (DESIGN §12).

1. Warm cache: item checks/s in 100-item batches through the real mediator (uvicorn + FastAPI,
   one process), beside uvicorn + FastAPI answering the same batch with a constant — the raw
   limit, measured in the same run with the same client. Targets: ≥ 100,000 items/s and ≥ 20%
   of the constant.
2. Cold cache: p99 latency of a 100-item batch over 3 modules, every item new, against module
   backends answering in 5 ms. Target: ≤ 50 ms.

Every server runs in its own process (bench/acl_servers.py); the load comes from a raw asyncio
HTTP/1.1 client (bench/acl_load.py) in this process. Loopback only.

    .venv/bin/python -m bench.acl
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvloop
import yaml

from bench.acl_load import connect, post, throughput
from bench.acl_servers import API_KEY, BATCH, MODULES, WARM_ANSWER

PATH = "/v1/permissions/check"
CONNECTIONS = 8  # closed loops: enough to keep one server process busy
WARM_ROUNDS = 5  # alternating constant / mediator rounds
WARM_ROUND_S = 2.0
COLD_BATCHES = 400  # sequential: p99 is the 4th-worst sample
COLD_WARMUP = 20
TARGET_ITEMS_S = 100_000
TARGET_SHARE = 0.20
TARGET_P99_MS = 50.0
START_TIMEOUT_S = 30.0


@contextmanager
def server(*args: str) -> Iterator[int]:
    """A bench server process; yields its port; always terminated."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.acl_servers", *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def batch(prefix: str) -> bytes:
    """100 items spread over the three modules, object ids unique to ``prefix``."""
    items = [
        {
            "module": MODULES[i % len(MODULES)],
            "project_id": "P-42",
            "object_type": "tender",
            "object_id": f"{prefix}-{i}",
            "user_id": f"u-{i % 17}",
        }
        for i in range(BATCH)
    ]
    return json.dumps({"tenant": "default", "items": items}).encode()


async def wait_ready(port: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            conn = await connect(port)
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
            continue
        assert conn.transport is not None
        conn.transport.close()
        return


async def verified(port: int, raw: bytes) -> None:
    """One request that also fills the mediator's cache; its answer must be the constant's."""
    conn = await connect(port)
    status, body = await conn.request(raw)
    if status != 200 or json.loads(body) != json.loads(WARM_ANSWER):
        raise RuntimeError(f"unexpected answer {status}: {body[:300]!r}")
    conn.transport.close()


async def warm(constant_port: int, mediator_port: int, raw: bytes) -> tuple[float, float]:
    """Items/s of each server, measured in alternating rounds so that the machine's noise
    falls on both alike; the median round of each."""
    for port in (constant_port, mediator_port):
        await verified(port, raw)
    rates: dict[int, list[float]] = {constant_port: [], mediator_port: []}
    for _ in range(WARM_ROUNDS):
        for port in rates:
            done, elapsed = await throughput(port, raw, CONNECTIONS, WARM_ROUND_S)
            rates[port].append(done * BATCH / elapsed)
    return statistics.median(rates[constant_port]), statistics.median(rates[mediator_port])


async def cold(port: int) -> list[float]:
    """Latency (ms) of sequential batches whose items were never asked before."""
    conn = await connect(port)
    samples = []
    for n in range(COLD_WARMUP + COLD_BATCHES):
        raw = post(PATH, batch(f"cold{n}"), {"X-API-Key": API_KEY})
        started = time.perf_counter()
        status, body = await conn.request(raw)
        elapsed_ms = (time.perf_counter() - started) * 1000
        answers = json.loads(body)["results"]
        if status != 200 or not all(a["read"] and a["error"] is None for a in answers):
            raise RuntimeError(f"cold batch failed {status}: {body[:300]!r}")
        if n >= COLD_WARMUP:
            samples.append(elapsed_ms)
    assert conn.transport is not None
    conn.transport.close()
    return samples


def upstream_requests(prefix: str) -> list[bytes]:
    """What the mediator sends for one cold batch: one call per module with its items."""
    items = json.loads(batch(prefix))["items"]
    calls = []
    for name in MODULES:
        mine = [it for it in items if it["module"] == name]
        wire = [
            {"id": i, **{k: v for k, v in it.items() if k != "module"}} for i, it in enumerate(mine)
        ]
        body = json.dumps({"tenant": "default", "module": name, "items": wire}).encode()
        calls.append(post(f"/{name}/permissions/check", body, {}))
    return calls


async def cold_direct(port: int) -> list[float]:
    """The raw limit for the cold case: the same three calls straight to the backends, at once."""
    conns = [await connect(port) for _ in MODULES]
    samples = []
    for n in range(COLD_WARMUP + COLD_BATCHES):
        calls = upstream_requests(f"direct{n}")
        started = time.perf_counter()
        answers = await asyncio.gather(*(c.request(r) for c, r in zip(conns, calls, strict=True)))
        elapsed_ms = (time.perf_counter() - started) * 1000
        if any(status != 200 for status, _ in answers):
            raise RuntimeError(f"backend failed: {answers[0][1][:200]!r}")
        if n >= COLD_WARMUP:
            samples.append(elapsed_ms)
    for conn in conns:
        conn.transport.close()
    return samples


def modules_file(directory: Path, backends_port: int) -> Path:
    base = f"http://127.0.0.1:{backends_port}"
    modules = {name: {"base_url": f"{base}/{name}", "timeout_s": 2.0} for name in MODULES}
    path = directory / "acl-modules.yaml"
    path.write_text(yaml.safe_dump({"modules": modules}))
    return path


async def measure(tmp: Path) -> dict[str, Any]:
    warm_raw = post(PATH, batch("warm"), {"X-API-Key": API_KEY})
    with (
        server("constant") as constant_port,
        server("backends") as backends,
        server("mediator", str(modules_file(tmp, backends))) as port,
    ):
        for ready in (constant_port, backends, port):
            await wait_ready(ready)
        constant, mediator = await warm(constant_port, port, warm_raw)
        direct = await cold_direct(backends)
        latencies = await cold(port)
    p99 = statistics.quantiles(latencies, n=100)[98]
    direct_p99 = statistics.quantiles(direct, n=100)[98]
    return {
        "warm_items_per_s": round(mediator),
        "constant_items_per_s": round(constant),
        "warm_ratio": round(mediator / constant, 3),
        "warm_target_items_per_s": TARGET_ITEMS_S,
        "cold_p50_ms": round(statistics.median(latencies), 2),
        "cold_p99_ms": round(p99, 2),
        "direct_p50_ms": round(statistics.median(direct), 2),
        "direct_p99_ms": round(direct_p99, 2),
        "cold_p99_over_direct": round(p99 / direct_p99, 2),
        "cold_target_p99_ms": TARGET_P99_MS,
        "backend_delay_ms": 5,
    }


def report(r: dict[str, Any]) -> None:
    ok_rate = r["warm_items_per_s"] >= TARGET_ITEMS_S and r["warm_ratio"] >= TARGET_SHARE
    print(
        f"warm cache, {BATCH}-item batches, {CONNECTIONS} connections, median of {WARM_ROUNDS} "
        f"alternating {WARM_ROUND_S:.0f} s rounds:\n"
        f"  mediator          {r['warm_items_per_s']:>10,} items/s\n"
        f"  constant (raw)    {r['constant_items_per_s']:>10,} items/s   (uvicorn + FastAPI)\n"
        f"  ratio             {r['warm_ratio']:>10.1%}   target ≥ {TARGET_ITEMS_S:,}/s and "
        f"≥ {TARGET_SHARE:.0%}: {'met' if ok_rate else 'NOT met'}\n"
        f"cold cache, {BATCH} items over {len(MODULES)} modules, backends answering in 5 ms, "
        f"{COLD_BATCHES} sequential batches:\n"
        f"  mediator          p50 {r['cold_p50_ms']:>7} ms   p99 {r['cold_p99_ms']:>7} ms\n"
        f"  backends direct   p50 {r['direct_p50_ms']:>7} ms   p99 {r['direct_p99_ms']:>7} ms"
        f"   (raw: the same 3 calls at once, no mediator)\n"
        f"  p99 ratio         {r['cold_p99_over_direct']:>7}x      "
        f"target p99 ≤ {TARGET_P99_MS:.0f} ms: "
        f"{'met' if r['cold_p99_ms'] <= TARGET_P99_MS else 'NOT met'}"
    )


def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        result = uvloop.run(measure(Path(tmp)))
    report(result)
    return result


if __name__ == "__main__":
    main()
