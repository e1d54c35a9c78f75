"""Nothing in a request decides where the mediator connects: not a redirect from a module,
not a crafted module name, not URL syntax inside the fields."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse, Response

from tests.unit.services.acl_mediator.support import check, item, mediator, recording_app, serve

CRAFTED = [
    "../trap",
    "tenders/../trap",
    "http://127.0.0.1:9/",
    "tenders@127.0.0.1",
    "tenders#x",
    "tenders?x=1",
    "Tenders",
    "tenders ",
    "trap",
    "__class__",
    "modules",
    "%74enders",
]


async def test_redirects_are_not_followed(tmp_path: Path) -> None:
    hits: list[str] = []
    asked: list[str] = []
    async with serve(recording_app(hits, grant=True)) as trap_url:
        redirector = FastAPI()

        @redirector.post("/permissions/check")
        async def moved() -> Response:
            return RedirectResponse(f"{trap_url}/permissions/check", status_code=307)

        async with (
            serve(redirector) as url,
            mediator(tmp_path, {"tenders": {"base_url": url}}, urls=asked) as client,
        ):
            results = await check(client, [item("T-1", "u-17"), item("T-2", "u-3")])
    assert hits == []
    assert asked == [f"{url}/permissions/check"]
    assert all(r["read"] is False and r["write"] is False for r in results)
    assert results[0]["error"] == "module tenders: answered HTTP 307"


async def test_crafted_module_names_reach_no_address(tmp_path: Path) -> None:
    hits: list[str] = []
    asked: list[str] = []
    async with (
        serve(recording_app(hits, grant=True)) as url,
        mediator(tmp_path, {"tenders": {"base_url": f"{url}/acl"}}, urls=asked) as client,
    ):
        results = await check(
            client, [item("T-1", "u-17", module=name) for name in CRAFTED] + [item("T-1", "u-17")]
        )
    assert asked == [f"{url}/acl/permissions/check"]
    assert hits == ["/acl/permissions/check"]
    assert [r["read"] for r in results] == [False] * len(CRAFTED) + [True]
    assert all(r["error"].startswith("unknown module") for r in results[:-1])


async def test_request_fields_never_shape_the_upstream_url(tmp_path: Path) -> None:
    """Object ids, users and tenants full of URL syntax travel in the JSON body only."""
    hits: list[str] = []
    asked: list[str] = []
    nasty = "../../admin?x=http://127.0.0.1:1/#"
    async with (
        serve(recording_app(hits, grant=False)) as url,
        mediator(tmp_path, {"tenders": {"base_url": url}}, urls=asked) as client,
    ):
        results = await check(client, [item(nasty, nasty)], tenant="../" + nasty)
    assert asked == [f"{url}/permissions/check"]
    assert hits == ["/permissions/check"]
    assert results == [{"read": False, "write": False, "error": None}]
