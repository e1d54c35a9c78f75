"""Where the permissions mediator connects is decided by its modules file alone: not by a
module name in a request, not by a redirect, not by proxy settings in its environment.

The per-service tests (tests/unit/services/acl_mediator/test_isolation.py) prove a 307 is not
followed, a dozen crafted names reach no address and URL syntax in the fields stays in the
body; this suite adds every redirect status, more name tricks, and the environment. The
schemathesis run (test_schemathesis.py) also checks every address the mediator asked.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.responses import RedirectResponse, Response

from tests.unit.services.acl_mediator.support import check, item, mediator, recording_app, serve
from tests.unit.services.acl_mediator.test_isolation import CRAFTED

MORE_CRAFTED = [
    "tenders/../../admin",
    "tenders%2F..%2Fadmin",
    "tenders\\..\\admin",
    "tend\u0435rs",  # Cyrillic e: looks like "tenders"
    "TENDERS",
    "tenders\x00",
    " tenders",
    "tenders\n",
    "//127.0.0.1:1",
    "127.0.0.1",
    "localhost",
    "tenders.",
]


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_no_redirect_is_followed(tmp_path: Path, status: int) -> None:
    trap_hits: list[str] = []
    asked: list[str] = []
    async with serve(recording_app(trap_hits, grant=True)) as trap:
        redirector = FastAPI()

        @redirector.post("/permissions/check")
        async def moved() -> Response:
            return RedirectResponse(f"{trap}/permissions/check", status_code=status)

        async with (
            serve(redirector) as url,
            mediator(tmp_path, {"tenders": {"base_url": url}}, urls=asked) as client,
        ):
            [result] = await check(client, [item("T-1", "u-17")])
    assert trap_hits == [] and asked == [f"{url}/permissions/check"]
    assert result == {
        "read": False,
        "write": False,
        "error": f"module tenders: answered HTTP {status}",
    }


async def test_more_crafted_module_names_reach_no_address(tmp_path: Path) -> None:
    hits: list[str] = []
    asked: list[str] = []
    names = CRAFTED + MORE_CRAFTED
    async with (
        serve(recording_app(hits, grant=True)) as url,
        mediator(tmp_path, {"tenders": {"base_url": f"{url}/acl"}}, urls=asked) as client,
    ):
        results = await check(client, [item("T-1", "u-17", module=n) for n in names])
        empty = {"tenant": "default", "items": [item("T-1", "u-17", module="")]}
        refused = await client.post("/v1/permissions/check", json=empty)
    assert refused.status_code == 422
    assert all(r["read"] is False and r["write"] is False for r in results)
    assert all(r["error"].startswith("unknown module") for r in results)
    assert asked == [] and hits == []


async def test_proxy_settings_in_the_environment_are_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy_hits: list[str] = []
    backend_hits: list[str] = []
    async with (
        serve(recording_app(proxy_hits, grant=False)) as proxy,
        serve(recording_app(backend_hits, grant=True)) as url,
    ):
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
            monkeypatch.setenv(name, proxy)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        async with mediator(tmp_path, {"tenders": {"base_url": url}}) as client:
            [result] = await check(client, [item("T-1", "u-17")])
    assert proxy_hits == [] and backend_hits == ["/permissions/check"]
    assert result["read"] is True


async def test_a_module_path_is_kept_exactly(tmp_path: Path) -> None:
    """The configured base path is used as written; the mediator only appends its own."""
    hits: list[str] = []
    asked: list[str] = []
    async with serve(recording_app(hits, grant=True)) as url:
        modules = {"tenders": {"base_url": f"{url}/a/b/"}, "design": {"base_url": f"{url}/c"}}
        async with mediator(tmp_path, modules, urls=asked) as client:
            await check(client, [item("T-1", "u-17"), item("D-1", "u-17", module="design")])
    assert sorted(hits) == ["/a/b/permissions/check", "/c/permissions/check"]
    assert sorted(asked) == [f"{url}/a/b/permissions/check", f"{url}/c/permissions/check"]
