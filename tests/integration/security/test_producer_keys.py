"""HTTP producers are API keys with least privilege (DESIGN §3.1, §13): an event outside its
key's sources or tenants is refused with 403 and kept as a ``rejected`` row with the reason;
directory writes need the ``directory`` scope; only ``permissions`` keys may ask the mediator.
The string shorthand keeps its documented meaning (``"tenders"``: that source in tenant
``default``; ``"*"``: everything)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from herald.dev import dev_environment
from herald.emit import DEV_API_KEY
from herald.services import Service, load_settings
from libs.common.db.models import Event, EventStatus
from libs.common.security.principals import Scope
from services.acl_mediator.settings import MediatorSettings
from services.ingest.app import create_app
from tests.apps import ingest_settings, running
from tests.unit.services.acl_mediator.support import closed_port_url, mediator, modules_file
from tests.unit.services.ingest.intake_support import make_event

SHORT_TENDERS = "tenders-shorthand-key-0123"
ACME_TENDERS = "acme-tenders-key-0123456789"
ANY_SOURCE = "any-source-key-0123456789"
ACME_DIRECTORY = "acme-directory-key-0123456"
SHORT_DIRECTORY = "directory-shorthand-key-01"
ACME_PERMISSIONS = "acme-permissions-key-01234"
EVERYTHING = "internal-star-key-0123456789"
KEYS: dict[str, Any] = {
    SHORT_TENDERS: "tenders",
    ACME_TENDERS: {"scopes": ["events"], "sources": ["tenders"], "tenants": ["acme"]},
    ANY_SOURCE: {"scopes": ["events"], "sources": ["*"], "tenants": ["*"]},
    ACME_DIRECTORY: {"scopes": ["directory"], "tenants": ["acme"]},
    SHORT_DIRECTORY: "directory",
    ACME_PERMISSIONS: {"name": "sender", "scopes": ["permissions"], "tenants": ["acme"]},
    EVERYTHING: "*",
}


def _as(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def _directory_update(tenant: str) -> dict[str, Any]:
    return make_event(
        source="directory", type="user.updated", tenant=tenant, recipients={},
        entity={"type": "user", "id": "u-17", "attributes": {}},
        payload={"email": "attacker@example.com"},
    )  # fmt: skip


# (key, event) → the status POST /v1/events must answer
EVENTS = [
    (SHORT_TENDERS, make_event(1, tenant="default"), 202),
    (SHORT_TENDERS, make_event(2, tenant="acme"), 403),  # the hole: any tenant
    (SHORT_TENDERS, make_event(3, tenant="default", source="approvals"), 403),
    (ACME_TENDERS, make_event(4, tenant="acme"), 202),
    (ACME_TENDERS, make_event(5, tenant="beta"), 403),
    (ACME_TENDERS, make_event(6, tenant="acme", source="approvals"), 403),
    (ANY_SOURCE, make_event(7, tenant="beta", source="approvals"), 202),
    (ACME_PERMISSIONS, make_event(8, tenant="acme"), 403),  # no events scope
    (ACME_DIRECTORY, make_event(9, tenant="acme"), 403),
    (EVERYTHING, make_event(10, tenant="beta", source="design"), 202),
    # directory events need the directory scope, whatever sources a key has
    (SHORT_TENDERS, _directory_update("default"), 403),
    (ANY_SOURCE, _directory_update("acme"), 403),
    (ACME_DIRECTORY, _directory_update("acme"), 202),
    (ACME_DIRECTORY, _directory_update("default"), 403),
    (SHORT_DIRECTORY, _directory_update("default"), 202),
    (EVERYTHING, _directory_update("beta"), 202),
]


async def _rows(sessions: async_sessionmaker[AsyncSession]) -> list[Event]:
    async with sessions() as session:
        return list((await session.scalars(select(Event))).all())


async def test_an_event_outside_its_key_is_403_and_stored_rejected(
    database_url: str, amqp_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    settings = ingest_settings(database_url, amqp_url, api_keys=KEYS)
    async with running(create_app(settings, consume=False)) as http:
        answers = [
            (await http.post("/v1/events", json=event, headers=_as(key))).status_code
            for key, event, _ in EVENTS
        ]
    assert answers == [status for *_, status in EVENTS]
    rows = await _rows(sessions)
    received = {r.source_event_id for r in rows if r.status == EventStatus.RECEIVED.value}
    assert received == {event["id"] for _, event, status in EVENTS if status == 202}
    rejected = {bytes(r.raw or b""): r.error for r in rows if r.status == "rejected"}
    for _, event, status in EVENTS:
        if status == 403:
            reason = rejected[json.dumps(event).encode()]
            assert reason is not None and reason.startswith("forbidden: "), reason


async def test_a_batch_with_one_foreign_event_stores_none_of_it(
    database_url: str, amqp_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    own, foreign = make_event(1, tenant="default"), make_event(2, tenant="acme")
    settings = ingest_settings(database_url, amqp_url, api_keys=KEYS)
    async with running(create_app(settings, consume=False)) as http:
        resp = await http.post("/v1/events", json=[own, foreign], headers=_as(SHORT_TENDERS))
    assert resp.status_code == 403
    assert "may not act in tenant 'acme'" in resp.json()["error"]["message"]
    [row] = await _rows(sessions)
    assert (row.status, bytes(row.raw or b"")) == ("rejected", json.dumps(foreign).encode())
    assert row.error is not None and "tenders may not act in tenant 'acme'" in row.error


@pytest.mark.parametrize(
    ("key", "tenant", "status"),
    [
        (SHORT_TENDERS, "default", 403),
        (ANY_SOURCE, "acme", 403),
        (ACME_PERMISSIONS, "acme", 403),
        (ACME_DIRECTORY, "acme", 200),
        (ACME_DIRECTORY, "default", 403),
        (SHORT_DIRECTORY, "default", 200),
        (SHORT_DIRECTORY, "acme", 403),
        (EVERYTHING, "beta", 200),
    ],
)
async def test_the_directory_api_needs_the_directory_scope(
    database_url: str, key: str, tenant: str, status: int
) -> None:
    settings = ingest_settings(database_url, "memory://directory-scope", api_keys=KEYS)
    url, body = f"/v1/recipients/u-17?tenant={tenant}", {"email": "attacker@example.com"}
    async with running(create_app(settings, consume=False)) as http:
        put = await http.put(url, json=body, headers=_as(key))
        get = await http.get(url, headers=_as(key))
    assert put.status_code == status, put.text
    assert get.status_code == status


@pytest.mark.parametrize(
    ("key", "tenant", "status"),
    [
        (SHORT_TENDERS, "default", 403),  # a producer key asking about rights
        (ANY_SOURCE, "acme", 403),
        (ACME_DIRECTORY, "acme", 403),
        (ACME_PERMISSIONS, "acme", 200),
        (ACME_PERMISSIONS, "default", 403),
        (EVERYTHING, "beta", 200),
        ("not-a-key-0123456789", "acme", 401),
    ],
)
async def test_only_permissions_keys_may_ask_the_mediator(
    tmp_path: Path, key: str, tenant: str, status: int
) -> None:
    check = {"tenant": tenant, "items": [_item()]}
    invalidate = {"tenant": tenant, "user_id": "u-17"}
    modules = {"tenders": {"base_url": closed_port_url()}}
    async with mediator(tmp_path, modules, api_keys=KEYS) as client:
        client.headers.update(_as(key))
        checked = await client.post("/v1/permissions/check", json=check)
        invalidated = await client.post("/v1/permissions/invalidate", json=invalidate)
    assert (checked.status_code, invalidated.status_code) == (status, status), checked.text
    if status == 200:  # the backend is down: denied with the error, never allowed
        assert checked.json()["results"][0]["read"] is False


def test_a_mediator_without_a_permissions_key_refuses_to_start(tmp_path: Path) -> None:
    modules = modules_file(tmp_path, {})
    with pytest.raises(ValidationError, match="permissions"):
        MediatorSettings(api_keys={SHORT_TENDERS: "sender"}, acl_modules_file=modules)


def test_herald_dev_shows_least_privilege(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in dev_environment(tmp_path).items():
        monkeypatch.setenv(name, value)
    producer = load_settings(Service.ingest).api_keys[DEV_API_KEY]
    assert producer.event_refusal("tenders", "default") is None
    assert producer.event_refusal("tenders", "acme") is not None
    assert producer.refusal(Scope.PERMISSIONS, "default") is not None
    assert producer.refusal(Scope.DIRECTORY, "default") is not None
    mediator_keys = load_settings(Service.acl_mediator).api_keys
    services = mediator_keys[os.environ["HERALD_MEDIATOR_API_KEY"]]
    assert services.refusal(Scope.PERMISSIONS, "acme") is None
    assert services.event_refusal("tenders", "default") is not None


def _item() -> dict[str, Any]:
    return {
        "module": "tenders",
        "project_id": "P-42",
        "object_type": "tender",
        "object_id": "T-1",
        "user_id": "u-17",
    }


def test_keys_are_compared_whole() -> None:
    """A prefix or a case change of a valid key is not that key."""
    from libs.common.security.auth import match_api_key

    keys = {EVERYTHING: "found"}
    assert match_api_key(keys, EVERYTHING) == "found"
    for wrong in (EVERYTHING[:-1], EVERYTHING.upper(), EVERYTHING + " ", "", None):
        assert match_api_key(keys, wrong) is None
