"""Every way a module backend can fail denies only its own items, with the reason; the rest of
the batch is answered; errors are never cached."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from tests.unit.services.acl_mediator.support import (
    check,
    closed_port_url,
    item,
    mediator,
    reference_app,
    serve,
)


def broken_backend(mode: dict[str, str]) -> FastAPI:
    """Misbehaves as ``mode["now"]`` says; "ok" grants everything properly."""
    app = FastAPI()
    release = asyncio.Event()
    app.state.release = release

    @app.post("/permissions/check")
    async def answer(request: Request) -> Response:
        body = await request.json()
        ids = [it["id"] for it in body["items"]]
        now = mode["now"]
        if now == "slow":
            await release.wait()  # never answers within the mediator's timeout
        if now == "5xx":
            return JSONResponse({"detail": "boom"}, status_code=503)
        if now == "huge":
            return Response(b"[" * (5 * 1024 * 1024), media_type="application/json")
        if now == "not_json":
            return Response(b"<html>oops</html>", media_type="text/html")
        return JSONResponse(_results(now, ids))

    return app


def _results(mode: str, ids: list[int]) -> Any:
    grant = [{"id": i, "read": True, "write": True} for i in ids]
    if mode == "wrong_shape":
        return grant  # a list, not {"results": [...]}
    if mode == "partial":
        return {"results": grant[::2]}  # every other item forgotten
    if mode == "bad_types":
        return {"results": [{"id": i, "read": "true", "write": 1} for i in ids]}
    if mode == "twice":
        return {"results": [*grant, {"id": ids[0], "read": False, "write": False}]}
    if mode == "stranger_ids":
        return {"results": [{"id": i + 1000, "read": True, "write": True} for i in ids]}
    if mode == "module_error":
        return {
            "results": [{"id": i, "read": True, "write": True, "error": "db down"} for i in ids]
        }
    return {"results": grant}


def batch() -> list[dict[str, Any]]:
    """Two items for the healthy reference module, three for the broken one, interleaved."""
    return [
        item("T-1", "u-17"),
        item("X-1", "u-1", module="broken", object_type="thing"),
        item("X-2", "u-1", module="broken", object_type="thing"),
        item("T-1", "u-21"),
        item("X-3", "u-1", module="broken", object_type="thing"),
    ]


EXPECTED_ERRORS = {
    "5xx": "module broken: answered HTTP 503",
    "not_json": "module broken: malformed answer",
    "huge": "module broken: malformed answer (over 4194304 bytes)",
    "wrong_shape": "module broken: malformed answer",
    "bad_types": "module broken: no answer for this item",
    "stranger_ids": "module broken: no answer for this item",
    "module_error": "module error: db down",
    "slow": "module broken: timed out",
}


async def test_each_failure_denies_only_its_items(tmp_path: Path) -> None:
    mode = {"now": "ok"}
    broken = broken_backend(mode)
    async with serve(reference_app()) as good_url, serve(broken) as bad_url:
        modules: dict[str, dict[str, Any]] = {
            "tenders": {"base_url": good_url},
            "broken": {"base_url": bad_url, "timeout_s": 0.3},
        }
        async with mediator(tmp_path, modules) as client:
            for failure, expected in EXPECTED_ERRORS.items():
                mode["now"] = failure
                results = await check(client, batch())
                assert (results[0]["read"], results[0]["write"]) == (True, True), failure
                assert results[0]["error"] is None and results[3]["error"] is None
                assert (results[3]["read"], results[3]["write"]) == (False, False)
                for result in (results[1], results[2], results[4]):
                    assert result["read"] is False and result["write"] is False, failure
                    assert result["error"].startswith(expected), (failure, result)
            mode["now"] = "ok"  # errors were not cached: the recovered module is asked again
            recovered = await check(client, batch())
            broken.state.release.set()
    assert [r["read"] for r in recovered] == [True, True, True, False, True]
    assert all(r["error"] is None for r in recovered)


async def test_partial_and_duplicate_answers_deny_the_items_concerned(tmp_path: Path) -> None:
    mode = {"now": "partial"}
    async with (
        serve(broken_backend(mode)) as url,
        mediator(tmp_path, {"broken": {"base_url": url}}) as client,
    ):
        items = [item(f"X-{i}", "u-1", module="broken", object_type="thing") for i in range(4)]
        partial = await check(client, items)
        mode["now"] = "twice"
        twice = await check(
            client, [item("Y-0", "u-1", "broken", "thing"), item("Y-1", "u-1", "broken", "thing")]
        )
    # ids 0 and 2 were answered, 1 and 3 forgotten
    assert [r["read"] for r in partial] == [True, False, True, False]
    assert partial[1]["error"] == "module broken: no answer for this item"
    assert twice[0] == {"read": False, "write": False, "error": "module answered this item twice"}
    assert twice[1] == {"read": True, "write": True, "error": None}


async def test_unreachable_module_is_denied(tmp_path: Path) -> None:
    async with serve(reference_app()) as url:
        modules = {"tenders": {"base_url": url}, "gone": {"base_url": closed_port_url()}}
        async with mediator(tmp_path, modules) as client:
            results = await check(client, [item("T-1", "u-17"), item("G-1", "u-17", module="gone")])
    assert results[0]["read"] is True
    assert results[1]["read"] is False
    assert results[1]["error"].startswith("module gone: unreachable")


async def test_chunks_fail_alone(tmp_path: Path) -> None:
    """A module answering one chunk and failing the next: only the failed chunk is denied."""
    calls: list[int] = []
    app = FastAPI()

    @app.post("/permissions/check")
    async def answer(request: Request) -> Response:
        body = await request.json()
        calls.append(len(body["items"]))
        if any(it["object_id"] == "X-7" for it in body["items"]):
            return Response(status_code=500)
        return Response(json.dumps(_results("ok", [it["id"] for it in body["items"]])))

    async with (
        serve(app) as url,
        mediator(tmp_path, {"m": {"base_url": url, "max_batch": 5}}) as client,
    ):
        results = await check(client, [item(f"X-{i}", "u-1", module="m") for i in range(12)])
    assert sorted(calls) == [2, 5, 5]
    assert [r["read"] for r in results] == [True] * 5 + [False] * 5 + [True] * 2
