"""Tenant and user isolation on every user route of the ingest app, taken from its OpenAPI.

Alice (tenant ``default``) owns one of everything: a notification, a subscription, a channel
preference, a digest schedule and a linked Telegram chat, each carrying a canary string. The
permissions module lets only Alice read the object of her notification. Three intruders call
every user route: Bob (same tenant) and ``alice`` of tenant ``other`` (same user id, another
tenant), naming Alice's ids where a route takes one, and Mallory (same tenant), who follows
Alice's object and holds notifications about it of her own (one shown to her before her right
was revoked, one never checked, one denied), naming her own. For every call:

* no canary of Alice's appears in the answer (the subscription preview included: it scans
  only events about objects the caller may read);
* a route naming one of Alice's items, or an item about an object the caller may not read,
  answers 404, exactly like a missing item;
* everything Alice sees through her own GET routes is unchanged afterwards.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import transaction
from libs.common.db.models import Event, Notification, Recipient
from libs.common.inbox.access import ALLOWED, DENIED
from libs.common.schemas.permissions import PermissionAnswer, PermissionItem
from services.ingest.app import create_app
from tests.apps import ingest_settings
from tests.integration.security.user_routes import SAMPLES, Route, user_routes
from tests.integration.services.ingest.user_api_data import add_notifications, auth, user_api_app

T = TypeVar("T", Event, Notification)
ALICE = auth("alice")
INTRUDERS = {
    "bob": auth("bob"),
    "alice@other": auth("alice", tenant="other"),
    "mallory": auth("mallory"),
}
BOT = {"telegram_bot_username": "herald_test_bot"}
SOURCE, MODULE, ZONE = "canarysrc", "canarymod", "Pacific/Chatham"
SUB_NAME = "canary subscription of alice"


@dataclass
class World:
    params: dict[str, Any]  # Alice's ids, by path parameter name
    canaries: set[str]
    mallory_item: int = 0  # Mallory's own notification about Alice's object


def only_alice(item: PermissionItem) -> PermissionAnswer:
    """The module's rights: Alice may read her objects, nobody else may."""
    return PermissionAnswer(read=item.user_id == "alice", write=item.user_id == "alice")


async def _mallory_follows_alices_object(
    sessions: async_sessionmaker[AsyncSession], note_id: int
) -> int:
    """Notifications for Mallory about Alice's object (later events about it): one shown before
    her right was revoked, one never checked, one denied. Returns the first (the one a stale
    inbox would still show)."""
    async with transaction(sessions) as session:
        note = await session.get(Notification, note_id)
        event = await session.get(Event, note.event_id if note else "")
        assert note is not None and event is not None
        mine = []
        for access in (ALLOWED, None, DENIED):
            later = _copy(event, id=str(uuid.uuid4()))
            later.source_event_id = later.id
            session.add(later)
            mine.append(_copy(note, user_id="mallory", event_id=later.id, access=access))
        await session.flush()  # events first: the notifications refer to them
        session.add_all(mine)
        await session.flush()
        return mine[0].id


def _copy(row: T, **changes: Any) -> T:
    columns = type(row).__table__.columns.keys()
    values = {c: getattr(row, c) for c in columns if c != "id"}
    return type(row)(**{**values, **changes})


async def _alice_owns_everything(
    http: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> World:
    [note_id] = await add_notifications(sessions, "alice", 1, source=SOURCE)
    async with transaction(sessions) as session:
        note = await session.scalar(select(Notification).where(Notification.id == note_id))
        assert note is not None
        session.add(Recipient(tenant="default", user_id="alice", telegram_chat_id="424242"))
        event_id = note.event_id
    body = {"name": SUB_NAME, "source": SOURCE, "entity_type": "tender", "filter": []}
    sub = await http.post("/v1/subscriptions", json=body, headers=ALICE)
    change = {"changes": [{"source": MODULE, "channel": "email", "mode": "off"}]}
    pref = await http.put("/v1/preferences", json=change, headers=ALICE)
    schedule = {"days": [6], "time": "06:30", "timezone": ZONE}
    digest = await http.put("/v1/digest/email", json=schedule, headers=ALICE)
    assert (sub.status_code, pref.status_code, digest.status_code) == (201, 200, 200)
    params = {"item_id": note_id, "sub_id": sub.json()["id"], "channel": "email"}
    mallory_item = await _mallory_follows_alices_object(sessions, note_id)
    return World(params, {SOURCE, MODULE, ZONE, SUB_NAME, event_id}, mallory_item)


async def _snapshot(http: httpx.AsyncClient, routes: list[Route], world: World) -> str:
    """Everything Alice can read about herself, as one string."""
    views = {}
    for route in routes:
        if route.method == "GET":
            resp = await http.get(route.url(world.params), headers=ALICE)
            assert resp.status_code == 200, (route.label, resp.text)
            views[route.label] = resp.json()
    return json.dumps(views, sort_keys=True)


def test_every_user_route_has_a_sample() -> None:
    """A new user route must say how the isolation (and JWT) suites call it."""
    app = create_app(ingest_settings("postgresql+asyncpg://u@127.0.0.1/u", "memory://u"))
    labels = {route.label for route in user_routes(app)}
    assert labels - set(SAMPLES) == set(), "add these to tests/integration/security/user_routes.py"
    assert set(SAMPLES) - labels == set(), "routes gone: drop their samples"


async def test_no_user_route_reaches_another_users_or_tenants_data(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with user_api_app(database_url, only_alice, **BOT) as (app, http):
        routes = user_routes(app)
        world = await _alice_owns_everything(http, sessions)
        before = await _snapshot(http, routes, world)
        assert all(canary in before for canary in world.canaries), "canaries must be visible"
        for who, headers in INTRUDERS.items():
            for route in routes:
                await _intrude(http, route, world, who, headers)
                after = await _snapshot(http, routes, world)
                assert after == before, f"{who} changed Alice's data through {route.label}"


async def _intrude(
    http: httpx.AsyncClient, route: Route, world: World, who: str, headers: dict[str, str]
) -> None:
    sample = SAMPLES[route.label]
    params = {**world.params, "item_id": world.mallory_item} if who == "mallory" else world.params
    resp = await http.request(route.method, route.url(params), json=sample.body, headers=headers)
    where = (who, route.label, resp.status_code, resp.text[:300])
    if sample.object_route:
        assert resp.status_code == 404, where
        assert resp.json()["error"]["code"] == "not_found", where
    else:
        assert resp.status_code < 300, where
    leaked = [canary for canary in world.canaries if canary in resp.text]
    assert not leaked, (*where, leaked)
    body = resp.json() if resp.content else {}
    for key, value in sample.intruder_sees.items():
        assert body[key] == value, where


@pytest.mark.parametrize("who", sorted(INTRUDERS))
async def test_alice_notification_is_untouched_in_the_database(
    database_url: str, sessions: async_sessionmaker[AsyncSession], who: str
) -> None:
    """The snapshot hides archived items; this reads the row itself after every mark route."""
    [note_id] = await add_notifications(sessions, "alice", 1, read=True)
    async with user_api_app(database_url) as (_app, http):
        for action in ("unread", "archive", "read", "unarchive"):
            resp = await http.post(f"/v1/inbox/{note_id}/{action}", headers=INTRUDERS[who])
            assert resp.status_code == 404
        resp = await http.post(
            "/v1/inbox/read-all", json={"up_to_id": note_id}, headers=INTRUDERS[who]
        )
        assert resp.json()["updated"] == 0
    async with sessions() as session:
        row = await session.scalar(select(Notification).where(Notification.id == note_id))
    assert row is not None and row.read_at is not None and row.archived_at is None
