"""Everything the scenario runs against, owned by it and thrown away afterwards: its own
PostgreSQL cluster and RabbitMQ node, the SMTP sink, the reference permissions backend and
the five Herald services as ``herald run`` processes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from libs.common.catalog.defaults import seed_defaults
from libs.common.db.engine import make_engine, make_sessionmaker, transaction
from libs.common.db.migrate import upgrade
from tests.acceptance.chaos import population
from tests.acceptance.chaos.herald_procs import SERVICES, Procs
from tests.acceptance.chaos.servers import PgCluster, RabbitNode, free_port
from tests.infra import raw_pg_dsn, with_database

API_KEY = "chaos-service-key-0123456789"
DATABASE = "herald"
# short, so a killed sender's deliveries come back quickly; still well above the time one
# batch of 100 takes to send on a loaded 2-core machine, or slowness alone would re-send.
# 8 s was, until each send also revealed its notification (a transaction per browser push):
# on a machine at load 10-16 leases then ran out on rows still being sent (docs/chaos.md)
LEASE_S = 15
SENDER_BATCH, SENDER_LOOPS = 100, 2  # at most 200 deliveries in a sender's hands at once
# small, so the browser tabs' resumes (browsers.py) read several replay pages, and a tab away
# through a long outage is told `recovered: false` and reloads over REST. 40 made more than
# half of the busiest tabs' items come from REST reloads: the replay then proved too little
WS_RESUME_PAGE, WS_RESUME_MAX_ITEMS = 10, 120
HELPERS = ("smtp_sink", "acl_backend")
# the user JWTs the services accept; the chaos suite's browser tabs mint theirs with them
JWT_SECRET = "chaos-jwt-secret-0123456789abcdefghijklmnop"
JWT_AUDIENCE, JWT_ISSUER = "herald-chaos", "https://sso.chaos.test"


def service_env(db_url: str, amqp_url: str, ports: dict[str, int], root: Path) -> dict[str, str]:
    return {
        "HERALD_DATABASE_URL": db_url,
        "HERALD_AMQP_URL": amqp_url,
        "HERALD_DB_POOL_SIZE": "5",
        "HERALD_API_KEYS": json.dumps({API_KEY: "*"}),
        "HERALD_JWT_SECRET": JWT_SECRET,
        "HERALD_JWT_AUDIENCE": JWT_AUDIENCE,
        "HERALD_JWT_ISSUER": JWT_ISSUER,
        "HERALD_MEDIATOR_URL": f"http://127.0.0.1:{ports['acl_mediator']}",
        "HERALD_MEDIATOR_API_KEY": API_KEY,
        "HERALD_ACL_MODULES_FILE": str(root / "acl-modules.yaml"),
        "HERALD_SMTP_HOST": "127.0.0.1",
        "HERALD_SMTP_PORT": str(ports["smtp_sink"]),
        "HERALD_SMTP_TIMEOUT_S": "10",
        "HERALD_EMAIL_FROM": f"herald@{population.MAIL_DOMAIN}",
        "HERALD_SENDER_LEASE_S": str(LEASE_S),
        "HERALD_SENDER_BATCH": str(SENDER_BATCH),
        "HERALD_SENDER_LOOPS": str(SENDER_LOOPS),
        "HERALD_SENDER_SWEEP_INTERVAL_S": "0.5",
        "HERALD_PROCESSOR_SWEEP_INTERVAL_S": "1",
        "HERALD_PROCESSOR_SWEEP_AGE_S": "2",
        "HERALD_WS_RESUME_LIMIT": str(WS_RESUME_PAGE),
        "HERALD_WS_RESUME_MAX_ITEMS": str(WS_RESUME_MAX_ITEMS),
    }


@dataclass
class Stack:
    root: Path
    pg: PgCluster
    rabbit: RabbitNode
    procs: Procs

    @property
    def db_url(self) -> str:
        return with_database(self.pg.url, DATABASE)

    @property
    def sink_record(self) -> Path:
        return self.root / "smtp.jsonl"

    @property
    def logs(self) -> Path:
        return self.procs.logs


def _make_root() -> Path:
    root = Path(tempfile.mkdtemp(prefix="herald-chaos-"))
    root.chmod(0o755)  # PostgreSQL and RabbitMQ run as their own users and must enter it
    return root


async def _prepare_database(pg_url: str, db_url: str) -> None:
    conn = await asyncpg.connect(raw_pg_dsn(pg_url))
    try:
        await conn.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await conn.close()
    await asyncio.to_thread(upgrade, db_url)  # `herald migrate`: the schema, then the seed
    engine = make_engine(db_url)
    try:
        async with transaction(make_sessionmaker(engine)) as session:
            await seed_defaults(session)
            await population.seed_population(session)
    finally:
        await engine.dispose()


def _helpers(procs: Procs, root: Path, ports: dict[str, int], large: int) -> None:
    sink, backend = ports["smtp_sink"], ports["acl_backend"]
    sink_cmd = [
        sys.executable,
        "-m",
        "tests.acceptance.chaos.smtp_sink",
        str(sink),
        str(root / "smtp.jsonl"),
    ]
    procs.add("smtp_sink", sink, sink_cmd)
    directory = population.write_directory(root / "acl-directory.yaml", large)
    procs.add("acl_backend", backend, [sys.executable, "-m", "tests.acceptance.chaos.acl_backend",
                                       str(backend), str(directory)])  # fmt: skip
    population.write_modules(root / "acl-modules.yaml", backend)


@contextlib.contextmanager
def running_stack(large: int = 0) -> Iterator[Stack]:
    """Start everything; on the way out (success or failure) stop it all and delete it.
    ``large``: the large events' objects the permissions backend knows."""
    root = _make_root()
    pg = PgCluster(root / "pg")
    rabbit = RabbitNode(root / "rabbit", name=f"herald_chaos_{os.getpid()}")
    procs = Procs(env={}, logs=root / "logs")
    procs.logs.mkdir()
    try:
        pg.init()
        rabbit.init()
        ports = {name: free_port() for name in (*SERVICES, *HELPERS)}
        procs.env = service_env(with_database(pg.url, DATABASE), rabbit.url, ports, root)
        for name in SERVICES:
            procs.add_service(name, ports[name])
        _helpers(procs, root, ports, large)
        stack = Stack(root, pg, rabbit, procs)
        asyncio.run(_prepare_database(pg.url, stack.db_url))
        procs.tcp_only.add("smtp_sink")
        procs.start_all(("smtp_sink", "acl_backend", *SERVICES))
        yield stack
    finally:
        _teardown(root, pg, rabbit, procs)


def _teardown(root: Path, pg: PgCluster, rabbit: RabbitNode, procs: Procs) -> None:
    procs.stop_all()
    rabbit.destroy()
    pg.destroy()
    if os.environ.get("HERALD_CHAOS_KEEP"):  # keep logs for a post-mortem
        print(f"chaos: kept {root}")
        return
    shutil.rmtree(root, ignore_errors=True)
