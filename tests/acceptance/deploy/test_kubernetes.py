"""deploy/kubernetes/ (issue 21): valid against the Kubernetes schemas (offline, the oldest
and newest minor versions kubernetes-validate ships that we support), and consistent with what
each service requires: its settings load from exactly the ConfigMap and Secrets its pod gets,
its files are deploy/config's, its probes and ports are the service's own."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from herald.services import Service, load_settings
from libs.common.runtime.settings import DEFAULT_PORTS
from services.acl_mediator.reference_server import ReferenceSettings
from services.websocket.feeds import load_feeds
from tests.acceptance.deploy.compose_file import read_env_file

ROOT = Path(__file__).resolve().parents[3]
MANIFESTS = ROOT / "deploy/kubernetes"
CONFIG = ROOT / "deploy/config"
VERSIONS = ("1.29.0", "1.37.0")  # oldest supported, newest the validator knows
SERVICES = {"ingest", "processor", "sender", "websocket", "acl_mediator"}
# idle RSS (MiB) in bench/memory with HERALD_METRICS_PORT set, as these manifests set it (the
# listener adds ~0.1 MiB): a pod is never scheduled where it cannot even start
IDLE_MIB = {"ingest": 95, "processor": 83, "sender": 87, "websocket": 80, "acl_mediator": 66}
MIB = {"Mi": 1, "Gi": 1024}


def objects() -> list[dict[str, Any]]:
    found = []
    for path in sorted(MANIFESTS.glob("*.yaml")):
        found += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return found


def named(kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects() if o["kind"] == kind}


def mib(quantity: str) -> int:
    number, unit = re.fullmatch(r"(\d+)(Mi|Gi)", quantity).groups()  # type: ignore[union-attr]
    return int(number) * MIB[unit]


def herald_deployments() -> Iterator[tuple[str, dict[str, Any]]]:
    """(service, its container) for each Deployment running `herald run <service>`."""
    for deployment in named("Deployment").values():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        if container["command"][:2] == ["herald", "run"]:
            yield container["command"][2], container


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_is_valid_kubernetes(version: str) -> None:
    for obj in objects():
        kubernetes_validate.validate(obj, version, strict=True)


def test_every_service_runs_with_probes_ports_and_resources() -> None:
    seen = set()
    for service, container in herald_deployments():
        seen.add(service)
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["http"] == DEFAULT_PORTS[service]
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
        resources = container["resources"]
        assert mib(resources["requests"]["memory"]) >= IDLE_MIB[service] * 1.25
        assert mib(resources["limits"]["memory"]) >= 2 * mib(resources["requests"]["memory"])
    assert seen == SERVICES


def test_services_budgets_and_the_migrate_job_fit_the_deployments() -> None:
    deployments = named("Deployment")
    labels = {n: d["spec"]["template"]["metadata"]["labels"] for n, d in deployments.items()}
    for service in named("Service").values():
        selector = service["spec"]["selector"]
        (target,) = [n for n, lab in labels.items() if selector.items() <= lab.items()]
        container = deployments[target]["spec"]["template"]["spec"]["containers"][0]
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= {
            p["name"] for p in container["ports"]
        }
    assert named("Service")["websocket"]["spec"]["sessionAffinity"] == "None"
    budgets = {
        b["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"]
        for b in named("PodDisruptionBudget").values()
    }
    assert budgets == {n for n, d in deployments.items() if d["spec"]["replicas"] > 1}
    job = named("Job")["herald-migrate"]["spec"]["template"]["spec"]["containers"][0]
    assert job["command"] == ["herald", "migrate"]


def test_the_config_maps_carry_deploy_config() -> None:
    files = named("ConfigMap")["herald-files"]["data"]
    assert files == {p.name: p.read_text() for p in CONFIG.glob("*.yaml")}
    shared = named("ConfigMap")["herald-config"]["data"]
    for key, value in read_env_file(CONFIG / "herald.env").items():
        assert shared[key] == value


def pod_environment(container: dict[str, Any]) -> dict[str, str]:
    """What envFrom and env give the container (ConfigMaps and Secrets of these manifests)."""
    maps, secrets = named("ConfigMap"), named("Secret")
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(maps[source["configMapRef"]["name"]]["data"])
        else:
            env.update(secrets[source["secretRef"]["name"]]["stringData"])
    for var in container.get("env", []):
        ref = var["valueFrom"]["secretKeyRef"]
        env[var["name"]] = secrets[ref["name"]]["stringData"][ref["key"]]
    return env


def test_each_service_starts_on_exactly_what_its_pod_gets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Settings load (a missing or invalid one would stop the service) and the files parse,
    with the mounted ConfigMap as /etc/herald."""
    for name, data in named("ConfigMap")["herald-files"]["data"].items():
        (tmp_path / name).write_text(data)
    reference = named("Deployment")["acl-reference"]["spec"]["template"]["spec"]["containers"]
    pods = [*herald_deployments(), ("acl-reference", reference[0])]
    for service, container in pods:
        with monkeypatch.context() as patch:
            for key in [k for k in os.environ if k.startswith("HERALD_")]:
                patch.delenv(key)
            for key, value in pod_environment(container).items():
                patch.setenv(key, value.replace("/etc/herald", str(tmp_path)))
            patch.chdir(tmp_path)  # no .env of the developer's
            if service == "acl-reference":
                assert ReferenceSettings().acl_reference_token
                continue
            settings = load_settings(Service(service))
            if service == "websocket":
                assert load_feeds(settings.ws_feeds_file).feeds
            if service == "acl_mediator":
                assert settings.modules().modules
