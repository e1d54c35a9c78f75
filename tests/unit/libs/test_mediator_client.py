"""The client every service uses, against the real mediator (in-process) and a real reference
backend; and what it does when the mediator itself cannot answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from libs.common.clients.mediator_client import MediatorClient, MediatorUnavailable
from libs.common.schemas.permissions import PermissionAnswer, PermissionItem
from services.acl_mediator.app import create_app
from services.acl_mediator.settings import MediatorSettings
from tests.unit.services.acl_mediator.support import (
    CALLER,
    KEY,
    closed_port_url,
    modules_file,
    reference_app,
    serve,
)


@asynccontextmanager
async def client_for_mediator(tmp_path: Path) -> AsyncIterator[MediatorClient]:
    async with serve(reference_app()) as backend_url:
        settings = MediatorSettings(
            api_keys={KEY: CALLER},
            acl_modules_file=modules_file(tmp_path, {"tenders": {"base_url": backend_url}}),
        )
        app = create_app(settings)
        async with serve(app) as mediator_url, MediatorClient(mediator_url, KEY) as client:
            yield client


def tender(object_id: str, user: str) -> PermissionItem:
    return PermissionItem(module="tenders", object_type="tender", object_id=object_id, user_id=user)


async def test_check_answers_in_order(tmp_path: Path) -> None:
    async with client_for_mediator(tmp_path) as client:
        answers = await client.check(
            [tender("T-1", "u-3"), tender("T-1", "u-17"), tender("T-1", "u-21")]
        )
        assert await client.check([]) == []
    assert answers == [
        PermissionAnswer(read=True, write=False),
        PermissionAnswer(read=True, write=True),
        PermissionAnswer(read=False, write=False),
    ]


async def test_large_batches_are_split(tmp_path: Path) -> None:
    items = [tender(f"N-{i}", "u-17") for i in range(2_345)] + [tender("T-1", "u-17")]
    async with client_for_mediator(tmp_path) as client:
        answers = await client.check(items)
    assert len(answers) == len(items)
    assert answers[-1].write is True and not any(a.read for a in answers[:-1])


async def test_invalidate(tmp_path: Path) -> None:
    async with client_for_mediator(tmp_path) as client:
        await client.check([tender("T-1", "u-3"), tender("T-2", "u-3")])
        assert await client.invalidate(user_id="u-3") == 2
        assert await client.invalidate(module="tenders", object_type="tender", object_id="T-1") == 0


async def test_wrong_key_is_unavailable_not_allowed(tmp_path: Path) -> None:
    async with client_for_mediator(tmp_path) as good:
        base = str(good._http.base_url)
        async with MediatorClient(base, "wrong-key-0123456789") as client:
            with pytest.raises(MediatorUnavailable, match="answered 401"):
                await client.check([tender("T-1", "u-17")])


def mediator_answering(response: httpx.Response) -> httpx.MockTransport:
    return httpx.MockTransport(lambda _request: response)


@pytest.mark.parametrize(
    ("response", "problem"),
    [
        (httpx.Response(500, text="boom"), "answered 500"),
        (httpx.Response(401, text="no key"), "answered 401"),
        (httpx.Response(200, text="<html>"), "malformed"),
        (httpx.Response(200, json={"results": []}), "answered 0 items for 1"),
        (httpx.Response(307, headers={"Location": "http://elsewhere/"}), "answered 307"),
    ],
)
async def test_a_broken_mediator_raises(response: httpx.Response, problem: str) -> None:
    async with MediatorClient(
        "http://mediator.test", KEY, transport=mediator_answering(response)
    ) as client:
        with pytest.raises(MediatorUnavailable, match=problem):
            await client.check([tender("T-1", "u-17")])


async def test_unreachable_mediator_raises() -> None:
    async with MediatorClient(closed_port_url(), KEY, timeout_s=1.0) as client:
        with pytest.raises(MediatorUnavailable, match="unreachable"):
            await client.check([tender("T-1", "u-17")])
