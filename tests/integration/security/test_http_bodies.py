"""Oversized and malformed bodies on every HTTP surface: the events API, the user API, the
directory, the admin and the permissions mediator. Each is refused with a 4xx — never a 500 —
and an oversized body is refused while it streams, not after it was buffered: the senders
below count how much of a 64 MiB body the server pulled before answering.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from libs.common.web.body_limit import DEFAULT_MAX_BODY_BYTES
from services.ingest.intake.decode import Rejected, decode
from services.ingest.intake.http_body import MAX_REQUEST_BYTES
from tests.apps import API_KEY, running
from tests.integration.security.user_routes import SAMPLES, user_routes
from tests.integration.services.ingest.admin.admin_support import SAME_ORIGIN, admin_app, login
from tests.integration.services.ingest.user_api_data import auth, user_api_app
from tests.unit.services.acl_mediator.support import mediator

MIB = 1024 * 1024
HUGE_CHUNKS = 64  # of 1 MiB each: far past every limit, never sent in full
DEEP = b"[" * 100_000 + b"]" * 100_000  # nests past Python's recursion limit
KEY = {"X-API-Key": API_KEY, "Content-Type": "application/json"}
PARAMS = {"item_id": 1, "sub_id": 1, "channel": "email"}


class Endless:
    """A chunked body (no Content-Length) of 64 MiB that records how much was pulled."""

    def __init__(self, first: bytes = b'{"x": "') -> None:
        self.first, self.sent = first, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for i in range(HUGE_CHUNKS):
            self.sent += MIB
            yield self.first if i == 0 else b"a" * MIB


async def _streamed(http: httpx.AsyncClient, method: str, url: str, **kw: object) -> int:
    body = Endless()
    resp = await http.request(method, url, content=body, **kw)  # type: ignore[arg-type]
    assert body.sent < HUGE_CHUNKS * MIB, f"{method} {url}: the whole body was read"
    return resp.status_code


async def test_user_and_directory_routes_refuse_huge_bodies_unauthenticated(
    database_url: str,
) -> None:
    """Refused before the credentials are even looked at: no memory held for anyone."""
    async with user_api_app(database_url) as (app, http):
        routes = [r for r in user_routes(app) if r.method != "GET"]
        targets = [(r.method, r.url(PARAMS), SAMPLES[r.label].body is not None) for r in routes]
        targets.append(("PUT", "/v1/recipients/u-17", True))
        for method, url, has_body in targets:
            # a route without a body answers 401 without reading it; _streamed checks that
            expected = 413 if has_body else 401
            assert await _streamed(http, method, url) == expected, (method, url)
            declared = await http.request(method, url, content=b"{" + b" " * (2 * MIB) + b"}")
            assert declared.status_code == 413, (method, url)
            assert declared.json()["error"]["code"] == "too_large"
        small = await http.put("/v1/preferences", content=b"{}", headers=auth("alice"))
        assert small.status_code == 422  # under the cap, bodies still reach validation


async def test_user_routes_refuse_malformed_json_with_4xx(database_url: str) -> None:
    bodies = [DEEP, b"\xff\xfe", b"{", b"[]", b'"x"', b'{"changes": [' * 500]
    async with user_api_app(database_url) as (app, http):
        routes = [r for r in user_routes(app) if SAMPLES[r.label].body is not None]
        for route in routes:
            for body in bodies:
                headers = {**auth("alice"), "Content-Type": "application/json"}
                resp = await http.request(
                    route.method, route.url(PARAMS), content=body, headers=headers
                )
                assert 400 <= resp.status_code < 500, (route.label, body[:20], resp.text)


async def test_events_api_refuses_oversized_and_malformed_bodies(database_url: str) -> None:
    malformed = {
        "deeply nested": DEEP,
        "deeply nested object": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        "not UTF-8": b'{"id": "\xff"}',
        "not JSON": b"{",
        "not an object": b"[1, 2]",
        "empty batch": b"[]",
        "NUL in a string": b'{"id": "a\\u0000b"}',
        "lone surrogate": b'{"id": "\\ud800"}',
        "too many events": json.dumps([{}] * 501).encode(),
    }
    async with user_api_app(database_url) as (_app, http):
        for name, body in malformed.items():
            resp = await http.post("/v1/events", content=body, headers=KEY)
            assert resp.status_code == 422, (name, resp.text)
        assert await _streamed(http, "POST", "/v1/events", headers=KEY) == 413
        declared = MAX_REQUEST_BYTES + 1
        resp = await http.post("/v1/events", content=b" " * declared, headers=KEY)
        assert resp.status_code == 413


def test_consumer_rejects_deep_nesting_instead_of_retrying_it() -> None:
    """The AMQP path: stored as rejected with its reason, not a poison message."""
    outcome = decode(DEEP, {})
    assert isinstance(outcome, Rejected) and outcome.reason.startswith("too_deep")


async def test_mediator_refuses_oversized_and_malformed_bodies(tmp_path: Path) -> None:
    async with mediator(tmp_path, {}) as http:
        for url in ("/v1/permissions/check", "/v1/permissions/invalidate"):
            assert await _streamed(http, "POST", url) in (413, 422), url
            for body in (DEEP, b"\xff", b"{", b"[]"):
                resp = await http.post(
                    url, content=body, headers={"Content-Type": "application/json"}
                )
                assert 400 <= resp.status_code < 500, (url, body[:10], resp.text)
        big = await http.post("/v1/permissions/invalidate", content=b" " * (2 * MIB))
        assert big.status_code == 413


async def test_admin_refuses_huge_forms(database_url: str) -> None:
    async with running(admin_app(database_url, "memory://admin-bodies")) as http:
        assert (await login(http)).status_code == 302
        form = {"Content-Type": "application/x-www-form-urlencoded", **SAME_ORIGIN}
        for url in ("/admin/login", "/admin/template/preview"):
            assert await _streamed(http, "POST", url, headers=form) == 413, url


@pytest.mark.parametrize("size", [DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_BODY_BYTES + 1])
async def test_the_cap_is_exact(database_url: str, size: int) -> None:
    async with user_api_app(database_url) as (_app, http):
        resp = await http.put("/v1/preferences", content=b" " * size, headers=auth("alice"))
    assert resp.status_code == (413 if size > DEFAULT_MAX_BODY_BYTES else 422)
