"""One JSON error shape for the whole ingest app, and an OpenAPI document that says so."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from services.ingest.app import create_app
from tests.apps import API_KEY, ingest_settings
from tests.integration.services.ingest.user_api_data import auth, user_api

ALICE = auth("alice")
USER_PATHS = ("/v1/inbox", "/v1/preferences", "/v1/subscriptions")


def _shape(body: dict[str, Any]) -> dict[str, Any]:
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error, dict) and set(error) == {"code", "message", "details"}, error
    return error


async def test_framework_errors_use_the_shape(database_url: str) -> None:
    async with user_api(database_url) as http:
        missing = await http.get("/v1/nowhere", headers=ALICE)
        wrong_method = await http.delete("/v1/inbox", headers=ALICE)
        invalid = await http.get("/v1/inbox", params={"limit": 0, "since": "x"}, headers=ALICE)
        bad_json = await http.post(
            "/v1/subscriptions",
            content=b"{nope",
            headers={**ALICE, "content-type": "application/json"},
        )
        events = await http.post("/v1/events", json=[{"id": "x"}], headers={"X-API-Key": API_KEY})
    assert (missing.status_code, _shape(missing.json())["code"]) == (404, "not_found")
    assert (wrong_method.status_code, _shape(wrong_method.json())["code"]) == (
        405,
        "method_not_allowed",
    )
    error = _shape(invalid.json())
    assert invalid.status_code == 422 and error["code"] == "invalid"
    assert isinstance(error["details"], list)
    assert {tuple(d["loc"]) for d in error["details"]} == {("query", "limit"), ("query", "since")}
    assert all("input" not in d for d in error["details"])  # nothing echoed back
    assert bad_json.status_code == 422 and _shape(bad_json.json())["code"] == "invalid"
    # other routers (POST /v1/events) get the same shape without doing anything
    assert events.status_code == 422
    assert _shape(events.json())["details"][0]["loc"][:2] == ["body", 0]


async def test_an_unexpected_error_is_a_500_in_the_shape(database_url: str) -> None:
    app = create_app(ingest_settings(database_url, f"memory://{uuid.uuid4().hex}"), consume=False)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://t") as http,
    ):
        resp = await http.get("/boom")
    assert resp.status_code == 500
    assert _shape(resp.json()) == {"code": "internal", "message": "internal error", "details": None}
    assert "secret" not in resp.text


async def test_a_database_outage_is_503_with_retry_after() -> None:
    down = "postgresql+asyncpg://postgres@127.0.0.1:9/nothing"  # the discard port: refused
    async with user_api(down) as http:
        for path in ("/v1/inbox", "/v1/inbox/counts", "/v1/preferences", "/v1/subscriptions"):
            resp = await http.get(path, headers=ALICE)
            assert resp.status_code == 503, (path, resp.text)
            assert _shape(resp.json())["code"] == "unavailable"
            assert resp.headers["retry-after"] == "5"


def test_openapi_documents_auth_errors_and_examples() -> None:
    app: FastAPI = create_app(ingest_settings("sqlite+aiosqlite:///unused.db", "memory://x"))
    doc = app.openapi()
    schemas = doc["components"]["schemas"]
    assert "ErrorResponse" in schemas
    operations = [
        (path, method, op)
        for path, item in doc["paths"].items()
        if path.startswith(USER_PATHS)
        for method, op in item.items()
    ]
    assert len(operations) == 15
    for path, method, op in operations:
        where = f"{method.upper()} {path}"
        assert op.get("summary"), where
        assert op.get("security") == [{"HTTPBearer": []}], where
        for status in ("401", "422", "503"):
            ref = op["responses"][status]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/ErrorResponse"), (where, status)
    for name in ("InboxPage", "MarkResult", "ReadAllResult", "PreferencesUpdate"):
        assert schemas[name]["examples"], name
    assert schemas["SubscriptionIn"]["properties"]["filter"]["examples"]
