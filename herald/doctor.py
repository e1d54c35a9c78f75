"""``herald doctor``: check a configuration without starting anything (docs/deploy.md).

For each service asked about (all five by default) it loads the settings the service would
load, then looks at what they name: the database (and whether it is migrated), the broker,
the SMTP server, the permissions mediator, the module backends, the JWKS URL, the feeds file,
the outbox folder. A dependency several services share is looked at once. Each finding is
printed with what is wrong and how to fix it; the exit code is 0 when nothing is, 1 otherwise
(for CI and deployment pipelines).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from herald.doctor_checks import (
    Finding,
    broker,
    database,
    feeds,
    jwks,
    mediator,
    module_backend,
    smtp,
    writable,
)
from herald.services import Service, load_settings
from herald.settings_errors import explain

Probe = Callable[[], Awaitable[Finding]]


@dataclass
class Plan:
    """Probes by what they look at (so a shared database is probed once), and who needs it."""

    probes: dict[str, Probe] = field(default_factory=dict)
    needed_by: dict[str, list[str]] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)  # known without probing

    def add(self, key: str, service: Service, probe: Probe) -> None:
        self.probes.setdefault(key, probe)
        self.needed_by.setdefault(key, []).append(service.value)


def plan(services: Iterable[Service], timeout_s: float) -> Plan:
    found = Plan()
    for service in services:
        try:
            settings = load_settings(service)
        except ValidationError as exc:
            problem = "\n".join(explain(service.value, exc).splitlines()[1:-1])
            fix = "set them in the environment or a .env file (README, 'Configuration')"
            found.findings.append(Finding(f"settings of {service.value}", problem, fix))
            continue
        found.findings.append(Finding(f"settings of {service.value}"))
        _dependencies(found, service, settings, timeout_s)
    return found


def _dependencies(found: Plan, service: Service, s: Any, timeout_s: float) -> None:
    if hasattr(s, "database_url"):
        found.add(f"db {s.database_url}", service, lambda: database(s.database_url))
    if hasattr(s, "amqp_url"):
        found.add(f"amqp {s.amqp_url}", service, lambda: broker(s.amqp_url, timeout_s))
    if hasattr(s, "mediator_url"):
        key = f"mediator {s.mediator_url} {s.mediator_api_key}"
        found.add(key, service, lambda: mediator(s.mediator_url, s.mediator_api_key, timeout_s))
    if getattr(s, "jwt_jwks_url", None):
        found.add(f"jwks {s.jwt_jwks_url}", service, lambda: jwks(s.jwt_jwks_url, timeout_s))
    if service is Service.sender and s.smtp_host:
        found.add(f"smtp {s.smtp_host}:{s.smtp_port}", service, lambda: smtp(s))
    if service is Service.sender and s.outbox_dir:
        found.add(f"outbox {s.outbox_dir}", service, lambda: _now(writable(s.outbox_dir)))
    if service is Service.websocket:
        found.add(f"feeds {s.ws_feeds_file}", service, lambda: _now(feeds(s.ws_feeds_file)))
    if service is Service.acl_mediator:
        for (name, tenant), config in s.modules().backends().items():
            label = name if tenant is None else f"{name} (tenant {tenant})"
            found.add(f"module {label}", service, _backend(label, config, timeout_s))


def _backend(label: str, config: Any, timeout_s: float) -> Probe:
    return lambda: module_backend(label, config, timeout_s)


async def _now(finding: Finding) -> Finding:
    return finding


async def run(found: Plan, timeout_s: float) -> list[Finding]:
    """Every probe at once, each bounded: a dependency that hangs is a finding too."""

    async def bounded(key: str, probe: Probe) -> Finding:
        users = ", ".join(found.needed_by[key])
        try:
            finding = await asyncio.wait_for(probe(), timeout_s * 2)
        except TimeoutError:
            finding = Finding(key.split(" ")[0], f"no answer within {timeout_s * 2:.0f} s")
        return Finding(f"{finding.what} [{users}]", finding.problem, finding.fix)

    probed = await asyncio.gather(*(bounded(k, p) for k, p in found.probes.items()))
    return [*found.findings, *probed]


def report(findings: list[Finding]) -> tuple[str, int]:
    """The text to print and the exit code (0: nothing wrong, 1: something is)."""
    lines = []
    for finding in findings:
        if finding.problem is None:
            lines.append(f"  ok    {finding.what}")
            continue
        problem = finding.problem.replace("\n", "\n          ")
        lines.append(f"  FAIL  {finding.what}\n          {problem}")
        if finding.fix:
            lines.append(f"        fix: {finding.fix}")
    wrong = sum(f.problem is not None for f in findings)
    lines.append(f"{wrong} problem(s) found" if wrong else "nothing wrong found")
    return "\n".join(lines), 1 if wrong else 0
