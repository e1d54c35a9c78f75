"""Per-tenant module backends (DESIGN §15): the modules file may give a tenant its own backend
for a module (``tenants: {acme: {base_url: …}}``); that tenant's items go there, everyone
else's to the module's own; answers are cached and lookups coalesced per tenant."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from services.acl_mediator.modules import ModulesFileError, parse_modules
from tests.apps import eventually
from tests.unit.services.acl_mediator.support import check, item, mediator, recording_app, serve
from tests.unit.services.acl_mediator.test_coalescing import WAIT_S, GatedBackend

GRANTED = {"read": True, "write": True, "error": None}
DENIED = {"read": False, "write": False, "error": None}


async def test_a_tenants_items_go_to_its_own_backend_and_are_cached_apart(
    tmp_path: Path,
) -> None:
    shared_hits: list[str] = []
    acme_hits: list[str] = []
    async with (
        serve(recording_app(shared_hits, grant=False)) as shared,
        serve(recording_app(acme_hits, grant=True)) as acme,
        mediator(
            tmp_path, {"tenders": {"base_url": shared, "tenants": {"acme": {"base_url": acme}}}}
        ) as client,
    ):
        question = [item("T-1", "u-17")]
        first = {t: await check(client, question, tenant=t) for t in ("default", "acme", "beta")}
        again = {t: await check(client, question, tenant=t) for t in ("default", "acme", "beta")}
    assert first == again == {"default": [DENIED], "acme": [GRANTED], "beta": [DENIED]}
    assert len(acme_hits) == 1  # acme asked its own backend, once: then its cache
    assert len(shared_hits) == 2  # default and beta, each once, each cached apart from acme


async def test_identical_lookups_are_coalesced_per_tenant(tmp_path: Path) -> None:
    shared, own = GatedBackend(grant=False), GatedBackend(grant=True)
    async with (
        serve(shared.app) as shared_url,
        serve(own.app) as own_url,
        mediator(
            tmp_path,
            {"tenders": {"base_url": shared_url, "tenants": {"acme": {"base_url": own_url}}}},
        ) as client,
    ):
        asks = [
            asyncio.create_task(check(client, [item("T-1", "u-17")], tenant=tenant))
            for tenant in ("default", "acme") * 50
        ]

        async def both_asked_once() -> bool:
            return len(shared.calls) == len(own.calls) == 1

        await eventually(both_asked_once)
        shared.gate.set()
        own.gate.set()
        answers = await asyncio.wait_for(asyncio.gather(*asks), WAIT_S)
    assert len(shared.calls) == len(own.calls) == 1
    read_only = {"read": True, "write": False, "error": None}  # what GatedBackend grants
    assert answers == [[DENIED], [read_only]] * 50


async def test_a_module_only_one_tenant_has(tmp_path: Path) -> None:
    hits: list[str] = []
    async with (
        serve(recording_app(hits, grant=True)) as url,
        mediator(tmp_path, {"site": {"tenants": {"acme": {"base_url": url}}}}) as client,
    ):
        mine = await check(client, [item("S-1", "u-1", module="site")], tenant="acme")
        theirs = await check(client, [item("S-1", "u-1", module="site")], tenant="default")
    assert mine == [GRANTED] and len(hits) == 1
    assert theirs[0]["read"] is False and "unknown module" in theirs[0]["error"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("modules: {tenders: {}}", "give base_url, or tenants"),
        ("modules: {tenders: {tenants: {acme: {}}}}", "base_url: Field required"),
        ("modules: {tenders: {tenants: {acme: {base_url: 'ftp://x'}}}}", "http:// or https://"),
        ("modules: {tenders: {tenants: {'../x': {base_url: 'http://x'}}}}", "tenants.../x"),
        ("modules: {tenders: {tenants: {acme: {base_url: 'http://x', colour: 1}}}}", "colour"),
    ],
)
def test_tenant_backends_are_validated(text: str, problem: str) -> None:
    with pytest.raises(ModulesFileError, match=problem.replace(".", r"\.").replace("(", r"\(")):
        parse_modules(text)


def test_a_tenant_backend_inherits_what_it_does_not_change() -> None:
    parsed = parse_modules(
        "modules: {tenders: {base_url: 'http://a/', timeout_s: 7, max_batch: 50,"
        " tenants: {acme: {base_url: 'http://b/', max_batch: 10}}}}"
    )
    backends = parsed.backends()
    own = backends[("tenders", "acme")]
    assert (own.base_url, own.timeout_s, own.max_batch) == ("http://b", 7, 10)
    assert backends[("tenders", None)].base_url == "http://a"
