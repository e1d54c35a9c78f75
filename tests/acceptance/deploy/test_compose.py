"""compose.yaml works as shipped (issue 21), proven without a Docker engine.

Each Herald service of compose.yaml runs as a process with exactly its compose environment
(deploy/compose.env.example as the operator's .env) and its mounted files. What compose's
own containers would be is replaced by the local servers, and only that: the URLs naming
``postgres`` and ``rabbitmq`` become this test's database and vhost, ``mailpit`` a local SMTP
sink, and the services' hostnames 127.0.0.1 on free ports (every process shares one host, so
each also gets its own listening and HERALD_METRICS_PORT). Every service answers /readyz, and
an event posted to ingest reaches the mail catcher. (broker-users needs RabbitMQ's management
API, which the test broker lacks: tests/acceptance/deploy/test_broker_users.py covers it.)
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from libs.common.runtime.settings import DEFAULT_PORTS
from tests.acceptance.deploy.compose_file import (
    COMPOSE,
    EXAMPLE_ENV,
    ComposeService,
    MissingVariable,
    braces_inside_substitutions,
    raw,
    read_env_file,
    service,
)
from tests.apps import eventually
from tests.integration.services.sender.support import SmtpSink

HERALD = ("acl-reference", "acl_mediator", "ingest", "processor", "sender", "websocket")
LISTENS = {**DEFAULT_PORTS, "acl-reference": 8005}  # what each one serves on in its container
READY_TIMEOUT_S = 40.0
MAIL_TIMEOUT_S = 30.0
EMAIL = "u-compose@example.com"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dotenv() -> dict[str, str]:
    return read_env_file(EXAMPLE_ENV)


def test_no_substitution_holds_a_brace() -> None:
    assert braces_inside_substitutions(COMPOSE.read_text()) == []


def test_a_missing_secret_stops_compose_naming_it() -> None:
    required = {name for name in dotenv() if f"${{{name}:?" in COMPOSE.read_text()}
    assert {"HERALD_API_KEYS", "HERALD_JWT_SECRET", "ACL_REFERENCE_TOKEN"} <= required
    for name in required:
        env = {k: v for k, v in dotenv().items() if k != name}
        with pytest.raises(MissingVariable, match=name):
            for each in raw()["services"]:
                service(each, env)


def test_the_mail_catcher_runs_by_default_and_monitoring_on_request() -> None:
    mailpit = service("mailpit", dotenv())
    assert mailpit.profiles == [] and "8025:8025" in mailpit.ports
    assert service("sender", dotenv()).environment["HERALD_SMTP_HOST"] == "mailpit"
    for name in HERALD:
        assert service(name, dotenv()).profiles == []
    prometheus, grafana = service("prometheus", dotenv()), service("grafana", dotenv())
    assert prometheus.profiles == grafana.profiles == ["monitoring"]
    config = {container: host for host, container in prometheus.mounts}["/etc/prometheus"]
    scrape = yaml.safe_load((config / "prometheus.yml").read_text())
    assert all((config / rules).exists() for rules in scrape["rule_files"])
    metrics_port = service("ingest", dotenv()).environment["HERALD_METRICS_PORT"]
    targets = {t for c in scrape["scrape_configs"][0]["static_configs"] for t in c["targets"]}
    assert targets == {f"{name}:{metrics_port}" for name in DEFAULT_PORTS}
    mounts = {container: host for host, container in grafana.mounts}
    provisioning = mounts["/etc/grafana/provisioning"]
    sources = yaml.safe_load((provisioning / "datasources/prometheus.yaml").read_text())
    assert sources["datasources"][0]["url"] == "http://prometheus:9090"
    folder = yaml.safe_load((provisioning / "dashboards/herald.yaml").read_text())
    path = folder["providers"][0]["options"]["path"]
    dashboards = [host for container, host in mounts.items() if container.startswith(path)]
    assert [json.loads(d.read_text())["uid"] for d in dashboards] == ["herald-overview"]


class Local:
    """Where compose's hosts are in this test."""

    def __init__(self, database_url: str, amqp_url: str, smtp_port: int) -> None:
        self.database_url, self.amqp_url, self.smtp_port = database_url, amqp_url, smtp_port
        self.ports = {name: free_port() for name in HERALD}

    def url(self, value: str) -> str:
        parts = urlsplit(value)
        if parts.hostname == "postgres":
            return self.database_url
        if parts.hostname == "rabbitmq":
            return self.amqp_url
        for name, port in self.ports.items():
            if parts.netloc == f"{name}:{LISTENS[name]}":
                return value.replace(parts.netloc, f"127.0.0.1:{port}", 1)
        return value

    def files(self, spec: ComposeService, into: Path) -> dict[str, Path]:
        """Copies of the service's mounts, the compose hostnames in them made local."""
        copies: dict[str, Path] = {}
        for host, container in spec.mounts:
            copy = into / container.strip("/").replace("/", "_")
            shutil.copytree(host, copy, dirs_exist_ok=True)
            for path in copy.rglob("*.yaml"):
                text = path.read_text()
                for name, port in self.ports.items():
                    text = text.replace(f"//{name}:{LISTENS[name]}", f"//127.0.0.1:{port}")
                path.write_text(text)
            copies[container] = copy
        return copies

    def environment(self, spec: ComposeService, into: Path) -> dict[str, str]:
        files = self.files(spec, into)
        env: dict[str, str] = {}
        for key, value in spec.environment.items():
            for container, copy in files.items():
                if value.startswith(container + "/"):
                    value = str(copy) + value[len(container) :]
            env[key] = self.url(value) if "://" in value else value
        assert env["HERALD_SMTP_HOST"] == "mailpit"  # the catcher compose runs
        env.update(HERALD_SMTP_HOST="127.0.0.1", HERALD_SMTP_PORT=str(self.smtp_port))
        env["HERALD_METRICS_PORT"] = str(free_port())  # one host for all: a port each
        hosts = [*HERALD, "postgres", "rabbitmq", "mailpit"]
        assert not [v for v in env.values() if any(f"//{h}:" in v for h in hosts)], env
        return env

    def command(self, spec: ComposeService) -> list[str]:
        assert spec.command[0] == "herald", spec.command
        args = [sys.executable, "-m", "herald", *spec.command[1:]]
        if spec.name in self.ports:
            args += ["--host", "127.0.0.1", "--port", str(self.ports[spec.name])]
        return args


@asynccontextmanager
async def started(
    local: Local, spec: ComposeService, work: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    log = (work / f"{spec.name}.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        *local.command(spec),
        env={**keep, **local.environment(spec, work / spec.name)},
        cwd=work,  # as in the image: no .env where it runs
        stdout=log,
        stderr=log,
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        log.close()


async def ready(port: int, proc: asyncio.subprocess.Process, log: Path) -> None:
    async def answers() -> bool:
        assert proc.returncode is None, log.read_text()[-3000:]
        try:
            async with httpx.AsyncClient() as http:
                return (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
        except httpx.HTTPError:
            return False

    await eventually(answers, timeout_s=READY_TIMEOUT_S, interval_s=0.25)


def keys_with_scope(scope: str) -> list[str]:
    keys: dict[str, dict[str, list[str]]] = json.loads(dotenv()["HERALD_API_KEYS"])
    return [key for key, principal in keys.items() if scope in principal["scopes"]]


async def test_compose_as_shipped_delivers_an_event_to_the_mail_catcher(
    empty_database: str, amqp_url: str, tmp_path: Path
) -> None:
    sink = await SmtpSink().start()
    local = Local(empty_database, amqp_url, sink.port)
    for name in ("migrate", *HERALD):
        (tmp_path / name).mkdir()
    async with AsyncExitStack() as stack:
        stack.push_async_callback(sink.stop)
        migrate = service("migrate", dotenv())
        proc = await stack.enter_async_context(started(local, migrate, tmp_path))
        assert await asyncio.wait_for(proc.wait(), 60) == 0, (tmp_path / "migrate.log").read_text()
        procs: dict[str, asyncio.subprocess.Process] = {}
        for name in HERALD:
            compose = service(name, dotenv())
            procs[name] = await stack.enter_async_context(started(local, compose, tmp_path))
            check = raw()["services"][name]["healthcheck"]["test"][-1]
            assert f"127.0.0.1:{LISTENS[name]}/readyz" in check  # compose probes what we probe
        for name, proc in procs.items():
            await ready(local.ports[name], proc, tmp_path / f"{name}.log")

        ingest = f"http://127.0.0.1:{local.ports['ingest']}"
        async with httpx.AsyncClient(base_url=ingest, timeout=10) as http:
            person = await http.put(
                "/v1/recipients/u-compose",
                json={"email": EMAIL, "locale": "en"},
                headers={"X-API-Key": keys_with_scope("directory")[0]},
            )
            assert person.status_code == 200, person.text
            event = {
                "id": str(uuid.uuid4()),
                "source": "tenders",
                "type": "tender.requirement_added",
                "entity": {"type": "tender", "id": "T-compose", "attributes": {}},
                "actor": {"id": "u-actor"},
                "recipients": {"assignee": ["u-compose"]},
                "priority": "critical",
                "occurred_at": "2026-11-26T10:00:00Z",
                "payload": {"title": "Add fire-safety certificate"},
            }
            sent = await http.post(
                "/v1/events", json=event, headers={"X-API-Key": keys_with_scope("events")[0]}
            )
            assert sent.status_code in (200, 201, 202), sent.text

        async def mailed() -> bool:
            return any(EMAIL in str(mail["To"]) for mail in sink.mails)

        await eventually(mailed, timeout_s=MAIL_TIMEOUT_S, interval_s=0.25)
