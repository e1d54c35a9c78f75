"""Identical questions in flight are asked once; answers are cached; invalidation works even
against lookups that were in flight when it arrived."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from prometheus_client import REGISTRY

from tests.apps import eventually
from tests.unit.services.acl_mediator.support import check, item, mediator, serve

WAIT_S = 20.0  # a hang (a deadlock) fails the test instead of blocking the suite


class GatedBackend:
    """A real backend that holds every call until released, counting calls and items."""

    def __init__(self, grant: bool = True) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.gate = asyncio.Event()
        self.grant = grant
        self.app = FastAPI()
        self.app.post("/permissions/check")(self._answer)

    async def _answer(self, request: Request) -> dict[str, Any]:
        body = await request.json()
        self.calls.append(body["items"])
        grant = self.grant  # the rights as they were when the call arrived
        await self.gate.wait()
        return {
            "results": [{"id": it["id"], "read": grant, "write": False} for it in body["items"]]
        }


def coalesced() -> float:
    return REGISTRY.get_sample_value("herald_acl_checks_total", {"source": "coalesced"}) or 0.0


async def test_100_concurrent_identical_checks_make_one_upstream_call(tmp_path: Path) -> None:
    backend = GatedBackend()
    before = coalesced()
    async with (
        serve(backend.app) as url,
        mediator(tmp_path, {"tenders": {"base_url": url}}) as client,
    ):
        requests = [asyncio.create_task(check(client, [item("T-1", "u-17")])) for _ in range(100)]

        async def all_waiting() -> bool:
            return len(backend.calls) == 1 and coalesced() - before == 99

        await eventually(all_waiting)
        backend.gate.set()
        results = await asyncio.wait_for(asyncio.gather(*requests), WAIT_S)
    assert len(backend.calls) == 1
    assert results == [[{"read": True, "write": False, "error": None}]] * 100


async def test_duplicates_within_a_batch_are_asked_once(tmp_path: Path) -> None:
    backend = GatedBackend()
    backend.gate.set()
    async with (
        serve(backend.app) as url,
        mediator(tmp_path, {"tenders": {"base_url": url}}) as client,
    ):
        results = await check(client, [item("T-1", "u-17")] * 5 + [item("T-2", "u-17")])
    assert len(backend.calls) == 1 and len(backend.calls[0]) == 2
    assert [r["read"] for r in results] == [True] * 6


async def test_modules_are_asked_concurrently(tmp_path: Path) -> None:
    """Both backends hold their call until both have been called: sequential calls would hang."""
    first, second = GatedBackend(), GatedBackend()
    async with serve(first.app) as url_a, serve(second.app) as url_b:
        modules = {"a": {"base_url": url_a}, "b": {"base_url": url_b}}
        async with mediator(tmp_path, modules) as client:
            pending = asyncio.create_task(
                check(client, [item("1", "u", module="a"), item("1", "u", module="b")])
            )

            async def both_called() -> bool:
                return len(first.calls) == 1 and len(second.calls) == 1

            await eventually(both_called)
            first.gate.set()
            second.gate.set()
            results = await asyncio.wait_for(pending, WAIT_S)
    assert [r["read"] for r in results] == [True, True]


async def test_answers_are_cached_and_invalidated(tmp_path: Path) -> None:
    backend = GatedBackend()
    backend.gate.set()
    async with (
        serve(backend.app) as url,
        mediator(tmp_path, {"tenders": {"base_url": url}}) as client,
    ):
        items = [item("T-1", "u-17"), item("T-2", "u-17"), item("T-1", "u-3")]
        await check(client, items)
        await check(client, items)
        assert len(backend.calls) == 1
        by_user = await client.post("/v1/permissions/invalidate", json={"user_id": "u-17"})
        await check(client, items)
        assert by_user.json() == {"removed": 2}
        assert [it["object_id"] for it in backend.calls[1]] == ["T-1", "T-2"]
        by_object = await client.post(
            "/v1/permissions/invalidate",
            json={"module": "tenders", "object_type": "tender", "object_id": "T-1"},
        )
        other_tenant = await client.post(
            "/v1/permissions/invalidate", json={"tenant": "acme", "user_id": "u-3"}
        )
        await check(client, items)
    assert by_object.json() == {"removed": 2}
    assert other_tenant.json() == {"removed": 0}
    assert [(it["object_id"], it["user_id"]) for it in backend.calls[2]] == [
        ("T-1", "u-17"),
        ("T-1", "u-3"),
    ]


async def test_invalidation_beats_a_lookup_in_flight(tmp_path: Path) -> None:
    """Rights change while the module is answering with the old rights: that stale answer
    goes to the callers already waiting, but is neither cached nor shared with later callers."""
    backend = GatedBackend()
    async with (
        serve(backend.app) as url,
        mediator(tmp_path, {"tenders": {"base_url": url}}) as client,
    ):
        early = asyncio.create_task(check(client, [item("T-1", "u-17")]))

        async def asked() -> bool:
            return len(backend.calls) == 1

        await eventually(asked)
        backend.grant = False  # rights revoked; the module tells the mediator
        await client.post("/v1/permissions/invalidate", json={"user_id": "u-17"})
        late = asyncio.create_task(check(client, [item("T-1", "u-17")]))

        async def asked_again() -> bool:
            return len(backend.calls) == 2

        await eventually(asked_again)
        backend.gate.set()
        stale, fresh = await asyncio.wait_for(asyncio.gather(early, late), WAIT_S)
        cached = await check(client, [item("T-1", "u-17")])
    assert stale[0]["read"] is True and fresh[0]["read"] is False
    assert cached[0]["read"] is False  # the stale grant was not cached
    assert len(backend.calls) == 2


async def test_invalidate_needs_a_user_or_a_whole_object(tmp_path: Path) -> None:
    async with mediator(tmp_path, {}) as client:
        codes = [
            (await client.post("/v1/permissions/invalidate", json=body)).status_code
            for body in ({}, {"module": "tenders"}, {"object_id": "T-1", "object_type": "x"})
        ]
    assert codes == [422, 422, 422]
