"""The Grafana dashboard, the alerting rules and the scrape config in deploy/ refer only to
metrics the services really export, with labels they really have, in well-formed PromQL."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from libs.common.bus import held as bus_metrics
from libs.common.runtime.settings import DEFAULT_PORTS
from services.acl_mediator import metrics as acl_metrics
from services.ingest.intake import metrics as ingest_metrics
from services.processor import metrics as processor_metrics
from services.sender import metrics as sender_metrics
from services.sender.digests import metrics as digest_metrics
from services.websocket import metrics as ws_metrics
from tests.acceptance.deploy.promql import Exported, problems

ROOT = Path(__file__).resolve().parents[3]
DASHBOARD = ROOT / "deploy/grafana/herald-dashboard.json"
RULES = ROOT / "deploy/prometheus/alerts.yaml"
PROMETHEUS = ROOT / "deploy/prometheus/prometheus.yml"
MODULES: list[object] = [
    ingest_metrics, processor_metrics, sender_metrics, digest_metrics, ws_metrics, acl_metrics,
    bus_metrics,
]  # fmt: skip
DURATION = re.compile(r"^\d+[smhd]$")
# what an operator must see at a glance (issue 11): one metric at least for each
ON_THE_DASHBOARD = [
    "herald_ingest_received_total", "herald_ingest_rejected_total",
    "herald_ingest_duplicates_total", "herald_processor_latency_seconds_bucket",
    "herald_processor_failures_total", "herald_processor_deliveries_total",
    "herald_sender_sent_total", "herald_sender_retried_total", "herald_sender_failed_total",
    "herald_sender_send_seconds_bucket", "herald_sender_due_deliveries",
    "herald_digests_built_total", "herald_ws_connections", "herald_ws_subscriptions",
    "herald_ws_drops_total", "herald_ws_messages_out_total", "herald_acl_checks_total",
    "herald_acl_cache_hit_ratio", "herald_acl_upstream_seconds_bucket",
    "herald_acl_upstream_calls_total", "up",
]  # fmt: skip
ALERTED = [
    "herald_sender_due_deliveries", "herald_processor_processed_total",
    "herald_processor_latency_seconds_bucket", "herald_ingest_rejected_total",
    "herald_sender_failed_total", "herald_sender_denied_total",
    "herald_acl_upstream_calls_total", "herald_ws_drops_total", "up",
    "herald_bus_unacked_oldest_seconds", "herald_sender_breaker_state",
]  # fmt: skip


@pytest.fixture(scope="module")
def exported() -> Exported:
    return Exported.collect(MODULES)


def dashboard_exprs() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in board["panels"] for t in p.get("targets", [])]


def rules() -> list[dict[str, Any]]:
    data = yaml.safe_load(RULES.read_text())
    return [rule for group in data["groups"] for rule in group["rules"]]


def test_the_checker_catches_what_it_must(exported: Exported) -> None:
    assert (
        problems('sum by (channel) (rate(herald_sender_sent_total{job="x"}[5m]))', exported) == []
    )
    assert problems("rate(herald_sender_sent[5m])", exported)  # the counter is *_total
    assert problems("rate(herald_nope_total[5m])", exported)
    assert problems('herald_sender_sent_total{nope="x"}', exported)  # no such label
    assert problems("sum(rate(herald_sender_sent_total[5m])", exported)  # unbalanced
    assert problems("rate(herald_sender_sent_total[5x])", exported)  # bad duration
    assert problems("frobnicate(herald_sender_sent_total)", exported)
    assert problems("sum by (module) (rate(herald_sender_sent_total[5m]))", exported)
    assert problems("herald_sender_sent_total{channel=email}", exported)  # unquoted value


def test_every_dashboard_query_uses_exported_metrics(exported: Exported) -> None:
    exprs = dashboard_exprs()
    found = {e: p for e in exprs if (p := problems(e, exported))}
    assert found == {}
    text = "\n".join(exprs)
    missing = [m for m in ON_THE_DASHBOARD if not re.search(rf"\b{m}\b", text)]
    assert missing == []


def test_dashboard_is_importable_with_the_datasource_as_a_variable() -> None:
    board = json.loads(DASHBOARD.read_text())
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    panels = [p for p in board["panels"] if p["type"] != "row"]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)) and board["uid"] and board["title"]
    for panel in panels:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(refs) == len(set(refs)), panel["title"]
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24 and pos["h"] > 0, panel["title"]
    cells = [
        (p["gridPos"]["y"] + dy, p["gridPos"]["x"] + dx)
        for p in board["panels"]
        for dy in range(p["gridPos"]["h"])
        for dx in range(p["gridPos"]["w"])
    ]
    assert len(cells) == len(set(cells)), "panels overlap"


def test_rules_are_well_formed_and_use_exported_metrics(exported: Exported) -> None:
    all_rules = rules()
    names = [r["alert"] for r in all_rules]
    assert len(names) == len(set(names)) and all(re.fullmatch(r"Herald[A-Za-z]+", n) for n in names)
    for rule in all_rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert problems(rule["expr"], exported) == [], rule["alert"]
        assert DURATION.match(rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    text = "\n".join(r["expr"] for r in all_rules)
    assert [m for m in ALERTED if not re.search(rf"\b{m}\b", text)] == []


def test_scrape_config_covers_the_five_services_as_compose_runs_them() -> None:
    config = yaml.safe_load(PROMETHEUS.read_text())
    [job] = config["scrape_configs"]
    targets = {
        target: group["labels"]["service"]
        for group in job["static_configs"]
        for target in group["targets"]
    }
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert set(DEFAULT_PORTS) <= set(compose["services"])
    # compose moves /metrics off the public ports (HERALD_METRICS_PORT, issue 15)
    metrics_port = compose["x-herald"]["environment"]["HERALD_METRICS_PORT"]
    published = {p.split(":")[-1] for s in compose["services"].values() for p in s.get("ports", [])}
    assert metrics_port not in published
    assert targets == {f"{name}:{metrics_port}": name for name in DEFAULT_PORTS}
    assert job["job_name"] == "herald" and job["metrics_path"] == "/metrics"
    assert [(PROMETHEUS.parent / f).exists() for f in config["rule_files"]] == [True]


def test_promtool_accepts_the_rules_and_config_when_installed() -> None:
    """promtool (Debian package `prometheus`) is the reference parser; the checks above hold
    without it."""
    promtool = shutil.which("promtool")
    if promtool is None:
        assert problems("up", Exported({"up": frozenset()})) == []  # the fallback parser runs
        return
    for args in (["check", "rules", str(RULES)], ["check", "config", str(PROMETHEUS)]):
        done = subprocess.run([promtool, *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
