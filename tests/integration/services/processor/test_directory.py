"""The directory (DESIGN §4 recipients): the PUT API, directory.user.updated events, and the
HTTP directory adapter with its TTL cache."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import Notification, Recipient, Subscription
from services.ingest.app import create_app as ingest_app
from services.processor.directory import HttpDirectory
from tests.apps import API_KEY, ingest_settings, running
from tests.integration.services.processor.support import (
    add,
    event,
    event_row,
    person,
    processor,
    rows,
    store,
)

URL = "/v1/recipients/u-17"
KEY = {"X-API-Key": API_KEY}
OTHER_KEY = "tenders-key-0123456789abcdef"


async def _person(sessions: async_sessionmaker[AsyncSession], user_id: str) -> Recipient | None:
    async with sessions() as session:
        return await session.get(Recipient, ("default", user_id))


async def test_put_recipient_upserts_and_keeps_fields_left_out(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    settings = ingest_settings(
        database_url, "memory://recipients", api_keys={API_KEY: "*", OTHER_KEY: "tenders"}
    )
    async with running(ingest_app(settings, consume=False)) as http:
        first = {"email": "a@example.com", "roles": ["designer"], "telegram_chat_id": "42",
                 "locale": "en", "timezone": "Asia/Yekaterinburg", "company_id": "c-5",
                 "manager_id": "u-1", "attributes": {"name": "Anna"}}  # fmt: skip
        resp = await http.put(URL, json=first, headers=KEY)
        assert resp.status_code == 200, resp.text
        assert resp.json()["roles"] == ["designer"]
        resp = await http.put(URL, json={"email": "b@example.com", "roles": []}, headers=KEY)
        assert resp.status_code == 200
        got = (await http.get(URL, headers=KEY)).json()
        assert (got["email"], got["roles"], got["telegram_chat_id"], got["locale"]) == (
            "b@example.com", [], "42", "en",
        )  # fmt: skip
        assert (await http.put(URL, json=first)).status_code == 401
        assert (
            await http.put(URL, json=first, headers={"X-API-Key": OTHER_KEY})
        ).status_code == 403
        for bad in ({"email": "nope"}, {"timezone": "Mars/Olympus"}, {"colour": "red"}):
            assert (await http.put(URL, json=bad, headers=KEY)).status_code == 422, bad
        assert (await http.get("/v1/recipients/u-404", headers=KEY)).status_code == 404
    stored = await _person(sessions, "u-17")
    assert stored is not None and stored.timezone == "Asia/Yekaterinburg"


async def test_directory_user_updated_event_upserts_instead_of_notifying(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await add(sessions, person("u-17", telegram_chat_id="42"))
    body = event(
        source="directory", type="user.updated", actor=None,
        entity={"type": "user", "id": "u-17", "attributes": {}},
        recipients={"self": ["u-17"]},
        payload={"email": "new@example.com", "roles": ["installer"], "company_id": "c-9"},
    )  # fmt: skip
    bad = event(source="directory", type="user.updated", payload={"email": "not-an-address"})
    ok_id, bad_id = await store(sessions, body), await store(sessions, bad)
    worker = await processor(sessions, database_url)
    assert await worker.process_ids([ok_id, bad_id]) == 1
    updated = await _person(sessions, "u-17")
    assert updated is not None
    assert (updated.email, updated.roles, updated.company_id, updated.telegram_chat_id) == (
        "new@example.com", ["installer"], "c-9", "42",
    )  # fmt: skip
    async with sessions() as session:
        assert (await session.scalars(select(Notification))).all() == []
    failed = await event_row(sessions, bad_id)
    assert (failed.status, failed.attempts) == ("received", 1)
    assert failed.error is not None and "not an e-mail address" in failed.error


class UserService:
    """A module backend answering the directory protocol, counting its calls."""

    def __init__(self, users: dict[str, dict[str, Any]]) -> None:
        self.users, self.calls, self.down = users, 0, False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.down:
            return httpx.Response(503, text="maintenance")
        ids = request.url.params["ids"].split(",")
        assert request.url.params["tenant"] == "default"
        found = [{"user_id": u, **self.users[u]} for u in ids if u in self.users]
        return httpx.Response(200, content=json.dumps({"users": found}))


async def test_http_directory_enriches_caches_and_fails_transiently(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    service = UserService({
        "u-40": {"roles": ["designer"], "company_id": "c-5"},
        "u-90": {"email": "watcher@example.com", "locale": "en"},
    })  # fmt: skip
    # the table knows u-90's Telegram chat (linked through Herald), not their e-mail
    await add(sessions, person("u-90", email=None, telegram_chat_id="9090"))
    await add(
        sessions,
        Subscription(tenant="default", user_id="u-90", name="designers", source="tenders",
                     entity_type="tender", channels=["email", "telegram"],
                     filter=[{"field": "responsible", "op": "roles_any", "value": ["designer"]}]),
    )  # fmt: skip
    async with httpx.AsyncClient(transport=httpx.MockTransport(service)) as client:
        directory = HttpDirectory(client, "http://users.test/api", ttl_s=300)
        worker = await processor(sessions, database_url, directory=directory)
        attrs = {"responsible": ["u-40"]}
        body = event(entity={"type": "tender", "id": "T-1", "attributes": attrs}, recipients={})
        first = await store(sessions, body)
        assert await worker.process_ids([first]) == 1
        calls = service.calls
        second = await store(sessions, {**body, "id": "again"})
        assert await worker.process_ids([second]) == 1
        assert service.calls == calls  # everyone was cached

        service.down = True
        attrs = {"responsible": ["u-41"]}  # not cached: needs the service
        third = await store(sessions, event(entity={"type": "tender", "id": "T-2",
                                                    "attributes": attrs}))  # fmt: skip
        assert await worker.process_ids([third]) == 0
    async with sessions() as session:
        got = (await session.execute(select(Notification.user_id, Notification.event_id))).all()
    assert sorted(got) == sorted([("u-90", first), ("u-90", second)])
    # the e-mail came from the user service, the Telegram chat from the table
    assert {(r[2], r[3]) for r in await rows(sessions, first)} == {
        ("email", "PENDING"),
        ("telegram", "PENDING"),
    }
    row = await event_row(sessions, third)
    # an outage is not the event's fault: no attempt counted, retried by the sweep
    assert (row.status, row.attempts) == ("received", 0)
    assert row.error is not None and "directory service" in row.error
