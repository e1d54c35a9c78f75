"""bench/memory: resident memory of all five services idle (DESIGN §12: <= 300 MiB in total).

Each service runs as its own process (`herald run <service>`, production settings, default
pool sizes; the admin UI off, /metrics on the service's port) on a free loopback port against
a throwaway PostgreSQL database and RabbitMQ vhost. Once every one answers /readyz, they are
left idle for SETTLE_S, then the RSS of each process tree is sampled SAMPLES times and the
highest sample kept (Linux /proc). What each service imports is pinned by
tests/acceptance/deploy/test_import_graph.py; the load average is printed because the machine is
shared.

Raw limit, in the same run: a bare Python interpreter (same executable, nothing imported)
idle, times five — the floor any five Python processes start from.

    .venv/bin/python -m bench.memory
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench._throwaway import throwaway
from libs.common.db.migrate import upgrade_async

SERVICES = ("acl_mediator", "ingest", "processor", "sender", "websocket")
BUDGET_MIB = 300.0  # DESIGN §12
START_TIMEOUT_S = 90.0
SETTLE_S = 10.0  # after readiness: first sweeps, digest ticks and pool warm-up are done
SAMPLES = 5
SAMPLE_INTERVAL_S = 1.0
MIB = 1024 * 1024
ROOT = Path(__file__).resolve().parents[1]
API_KEY = "bench-memory-key-0123456789"
MEDIATOR_KEY = "bench-mediator-key-0123456789"
MODULES_YAML = """modules:
  tenders: {base_url: "http://127.0.0.1:9/tenders"}
  approvals: {base_url: "http://127.0.0.1:9/approvals"}
  design: {base_url: "http://127.0.0.1:9/design"}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_bytes(pid: int) -> int:
    """Resident set of a process and its descendants (VmRSS from /proc)."""
    total = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            total += int(line.split()[1]) * 1024
    children = Path(f"/proc/{pid}/task/{pid}/children")
    for child in children.read_text().split() if children.exists() else []:
        try:
            total += rss_bytes(int(child))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def pss_bytes(pid: int) -> int:
    """Proportional set of a process tree (shared pages divided among their users): printed
    beside RSS for information only; the budget is RSS (DESIGN §12)."""
    total = 0
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            total += int(line.split()[1]) * 1024
    children = Path(f"/proc/{pid}/task/{pid}/children")
    for child in children.read_text().split() if children.exists() else []:
        try:
            total += pss_bytes(int(child))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def service_env(db_url: str, amqp_url: str, ports: dict[str, int], workdir: Path) -> dict[str, str]:
    modules = workdir / "acl-modules.yaml"
    modules.write_text(MODULES_YAML)
    keep = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    return {
        **keep,
        "HERALD_DATABASE_URL": db_url,
        "HERALD_AMQP_URL": amqp_url,
        "HERALD_API_KEYS": json.dumps(
            {API_KEY: "*", MEDIATOR_KEY: {"scopes": ["permissions"], "tenants": ["*"]}}
        ),
        "HERALD_JWT_SECRET": "bench-memory-jwt-secret-0123456789abcdef",
        "HERALD_JWT_AUDIENCE": "herald",
        "HERALD_JWT_ISSUER": "https://sso.bench",
        "HERALD_MEDIATOR_URL": f"http://127.0.0.1:{ports['acl_mediator']}",
        "HERALD_MEDIATOR_API_KEY": MEDIATOR_KEY,
        "HERALD_ACL_MODULES_FILE": str(modules),
        "HERALD_WS_FEEDS_FILE": str(ROOT / "deploy/config/websocket.yaml"),
        "HERALD_SMTP_HOST": "127.0.0.1",  # connected on the first mail only: none when idle
        "HERALD_SMTP_PORT": str(free_port()),
        "HERALD_EMAIL_FROM": "herald@bench.test",
    }


def start(name: str, port: int, env: dict[str, str], workdir: Path) -> subprocess.Popen[bytes]:
    log = (workdir / f"{name}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "herald", "run", name, "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "WARNING"],
        env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip


def wait_ready(procs: dict[str, subprocess.Popen[bytes]], ports: dict[str, int]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    waiting = set(procs)
    while waiting:
        if time.monotonic() > deadline:
            raise TimeoutError(f"not ready within {START_TIMEOUT_S:.0f}s: {sorted(waiting)}")
        for name in sorted(waiting):
            if procs[name].poll() is not None:
                raise RuntimeError(f"{name} exited with {procs[name].returncode}; see its log")
            try:
                url = f"http://127.0.0.1:{ports[name]}/readyz"
                if httpx.get(url, timeout=2).status_code == 200:
                    waiting.discard(name)
            except httpx.HTTPError:
                pass
        time.sleep(0.2)


def peak_rss(pids: dict[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """The highest RSS sample of each service, and its PSS at the end (information)."""
    peak = dict.fromkeys(pids, 0)
    for _ in range(SAMPLES):
        for name, pid in pids.items():
            peak[name] = max(peak[name], rss_bytes(pid))
        time.sleep(SAMPLE_INTERVAL_S)
    return peak, {name: pss_bytes(pid) for name, pid in pids.items()}


def stop(procs: dict[str, subprocess.Popen[bytes]]) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.terminate()
    for proc in procs.values():
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def measure_services(db_url: str, amqp_url: str) -> tuple[dict[str, int], dict[str, int]]:
    ports = {name: free_port() for name in SERVICES}
    with tempfile.TemporaryDirectory(prefix="herald-bench-memory-") as tmp:
        workdir = Path(tmp)
        env = service_env(db_url, amqp_url, ports, workdir)
        procs: dict[str, subprocess.Popen[bytes]] = {}
        try:
            procs["acl_mediator"] = start("acl_mediator", ports["acl_mediator"], env, workdir)
            for name in SERVICES[1:]:
                procs[name] = start(name, ports[name], env, workdir)
            wait_ready(procs, ports)
            time.sleep(SETTLE_S)
            return peak_rss({name: proc.pid for name, proc in procs.items()})
        finally:
            stop(procs)


def bare_interpreter_rss() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(1.0)
        return rss_bytes(proc.pid)
    finally:
        proc.kill()
        proc.wait(5)


async def _seed(db_url: str) -> None:
    from libs.common.catalog.defaults import seed_defaults
    from libs.common.db.engine import make_engine, make_sessionmaker, transaction

    await upgrade_async(db_url)
    engine = make_engine(db_url)
    async with transaction(make_sessionmaker(engine)) as session:
        await seed_defaults(session)
    await engine.dispose()


async def run() -> tuple[dict[str, int], dict[str, int]]:
    async with throwaway("memory") as (db_url, amqp_url):
        await _seed(db_url)
        return await asyncio.to_thread(measure_services, db_url, amqp_url)


def _report(per_service: dict[str, int], pss: dict[str, int], bare: int) -> dict[str, Any]:
    total = sum(per_service.values())
    mib = {name: round(value / MIB, 1) for name, value in per_service.items()}
    pss_mib = {name: round(value / MIB, 1) for name, value in pss.items()}
    result: dict[str, Any] = {
        "total_mib": round(total / MIB, 1),
        "budget_mib": BUDGET_MIB,
        "ratio_to_budget": round(total / MIB / BUDGET_MIB, 2),
        "raw_bare_python_x5_mib": round(5 * bare / MIB, 1),
        "ratio_to_raw": round(total / (5 * bare), 2),
        **{f"{name}_mib": value for name, value in mib.items()},
        "pss_total_mib": round(sum(pss.values()) / MIB, 1),  # information, not the budget
        "load_average": " ".join(f"{load:.2f}" for load in os.getloadavg()),
    }
    verdict = "within" if total / MIB <= BUDGET_MIB else "OVER"
    print(
        f"memory: {result['total_mib']} MiB RSS, all five services idle "
        f"({verdict} the {BUDGET_MIB:.0f} MiB budget, {result['ratio_to_budget']:.2f} of it)\n"
        + "".join(
            f"  {name:<13} {value:7.1f} MiB  (PSS {pss_mib[name]:.1f})\n"
            for name, value in mib.items()
        )
        + f"PSS total {result['pss_total_mib']} MiB (shared library pages divided among "
        "processes; information only, the budget is RSS)\n"
        + f"raw:    {result['raw_bare_python_x5_mib']} MiB = 5 bare Python interpreters "
        f"(same run, {bare / MIB:.1f} MiB each)\n"
        f"ratio:  {result['ratio_to_raw']:.2f} x the bare interpreters\n"
        f"load average during the run: {result['load_average']}"
    )
    return result


def main() -> dict[str, Any]:
    per_service, pss = asyncio.run(run())
    return _report(per_service, pss, bare_interpreter_rss())


if __name__ == "__main__":
    main()
