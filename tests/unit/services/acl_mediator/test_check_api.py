"""The check API end to end: a mediator in-process, the reference backend on a real port."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY

from tests.unit.services.acl_mediator.support import check, item, mediator, reference_app, serve


async def test_reference_rule_through_the_mediator(tmp_path: Path) -> None:
    async with (
        serve(reference_app()) as url,
        mediator(tmp_path, {"tenders": {"base_url": url}}) as client,
    ):
        results = await check(
            client,
            [
                item("T-1", "u-17"),  # owner
                item("T-1", "u-3"),  # owner's manager
                item("T-1", "u-1"),  # manager's manager
                item("T-1", "u-21"),  # a colleague
                item("T-3", "u-17"),  # an employee looking at their manager's tender
                item("T-404", "u-17"),  # an object nobody owns
                item("T-1", "u-17", module="nope"),  # a module not configured
            ],
        )
    assert [(r["read"], r["write"]) for r in results] == [
        (True, True),
        (True, False),
        (True, False),
        (False, False),
        (False, False),
        (False, False),
        (False, False),
    ]
    assert [r["error"] for r in results[:6]] == [None] * 6
    assert results[6]["error"] == "unknown module 'nope'"


async def test_tenant_is_part_of_the_question(tmp_path: Path) -> None:
    async with (
        serve(reference_app()) as url,
        mediator(tmp_path, {"tenders": {"base_url": url}}) as client,
    ):
        default = await check(client, [item("T-1", "u-17")])
        acme = await check(client, [item("T-1", "u-17")], tenant="acme")
    assert default[0]["read"] is True
    assert acme[0]["read"] is False and acme[0]["error"] is None


async def test_module_auth_header_is_sent(tmp_path: Path) -> None:
    async with serve(reference_app(token="s3cret")) as url:
        modules: dict[str, dict[str, Any]] = {
            "tenders": {
                "base_url": url,
                "auth_header": {"name": "Authorization", "value": "Bearer s3cret"},
            },
            "approvals": {"base_url": url},  # same backend, no header
        }
        async with mediator(tmp_path, modules) as client:
            results = await check(
                client, [item("T-1", "u-17"), item("A-1", "u-21", "approvals", "approval")]
            )
    assert results[0] == {"read": True, "write": True, "error": None}
    assert results[1]["read"] is False
    assert results[1]["error"] == "module approvals: answered HTTP 401"


async def test_callers_need_a_service_key(tmp_path: Path) -> None:
    async with mediator(tmp_path, {}) as client:
        body = {"items": [item("T-1", "u-17")]}
        missing = await client.post("/v1/permissions/check", json=body, headers={"X-API-Key": ""})
        wrong = await client.post(
            "/v1/permissions/check", json=body, headers={"X-API-Key": "x" * 30}
        )
        invalidate = await client.post(
            "/v1/permissions/invalidate", json={"user_id": "u-1"}, headers={"X-API-Key": "x" * 30}
        )
    assert (missing.status_code, wrong.status_code, invalidate.status_code) == (401, 401, 401)


async def test_bad_batches_are_422(tmp_path: Path) -> None:
    too_many = [item(f"T-{i}", "u-1") for i in range(1001)]
    bodies: list[bytes] = [
        json.dumps({"items": []}).encode(),
        json.dumps({"items": too_many}).encode(),
        b'{"items": [',
        b"\xff\xfe not json",
        json.dumps({"items": [{**item("T-1", "u-1"), "base_url": "http://evil"}]}).encode(),
        json.dumps({"items": [{"module": "tenders", "object_id": "T-1", "user_id": "u"}]}).encode(),
        json.dumps({"items": [item("T-1", "")]}).encode(),
        json.dumps({"tenant": "", "items": [item("T-1", "u-1")]}).encode(),
        json.dumps([item("T-1", "u-1")]).encode(),
        b'{"items": [' + b" " * (1024 * 1024) + b"]}",
    ]
    async with mediator(tmp_path, {}) as client:
        codes = [
            (await client.post("/v1/permissions/check", content=body)).status_code
            for body in bodies
        ]
        exactly_1000 = await client.post("/v1/permissions/check", json={"items": too_many[:1000]})
    assert codes == [422] * len(bodies)
    assert exactly_1000.status_code == 200
    assert len(exactly_1000.json()["results"]) == 1000


async def test_openapi_documents_both_contracts(tmp_path: Path) -> None:
    async with mediator(tmp_path, {}) as client:
        spec = (await client.get("/openapi.json")).json()
    operation = spec["paths"]["/v1/permissions/check"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/CheckRequest"
    )
    assert "CheckRequest" in spec["components"]["schemas"]
    assert "PermissionItem" in spec["components"]["schemas"]
    assert "POST <base_url>/permissions/check" in operation["description"]
    assert "/v1/permissions/invalidate" in spec["paths"]


async def test_metrics_count_checks_and_upstream_calls(tmp_path: Path) -> None:
    def sample(name: str, **labels: str) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    calls_before = sample("herald_acl_upstream_calls_total", module="tenders", outcome="ok")
    cached_before = sample("herald_acl_checks_total", source="cache")
    async with (
        serve(reference_app()) as url,
        mediator(tmp_path, {"tenders": {"base_url": url}}) as client,
    ):
        await check(client, [item("T-1", "u-17"), item("T-1", "u-3")])
        await check(client, [item("T-1", "u-17"), item("T-1", "u-3")])
        text = (await client.get("/metrics")).text
    assert (
        sample("herald_acl_upstream_calls_total", module="tenders", outcome="ok")
        == calls_before + 1
    )
    assert sample("herald_acl_checks_total", source="cache") == cached_before + 2
    assert "herald_acl_cache_hit_ratio 0.5" in text
    assert 'herald_acl_upstream_seconds_count{module="tenders"}' in text
