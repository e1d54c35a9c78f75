"""The reference module backend: the seed's rule, on a YAML directory and on Herald's database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import make_engine, make_sessionmaker, transaction
from libs.common.db.migrate import upgrade_async
from libs.common.db.models import Event, EventStatus, Recipient
from services.acl_mediator.reference_backend import create_reference_app, decide, managers_above
from services.acl_mediator.reference_data import HeraldDirectory, Snapshot
from tests.apps import running
from tests.unit.services.acl_mediator.support import reference_app


def test_managers_above_walks_the_chain_and_stops_on_cycles() -> None:
    managers = {"u-17": "u-3", "u-3": "u-1", "x": "y", "y": "x"}
    assert managers_above(managers, "u-17") == {"u-3", "u-1"}
    assert managers_above(managers, "u-1") == set()
    assert managers_above(managers, "x") == {"y", "x"}


def test_a_manager_follows_employees_not_the_other_way_round() -> None:
    snapshot = Snapshot(
        owners={("tender", "T-1"): frozenset({"u-17"}), ("tender", "T-3"): frozenset({"u-3"})},
        managers={"u-17": "u-3", "u-21": "u-3"},
    )
    assert decide(snapshot, "tender", "T-1", "u-17") == (True, True)
    assert decide(snapshot, "tender", "T-1", "u-3") == (True, False)
    assert decide(snapshot, "tender", "T-3", "u-17") == (False, False)
    assert decide(snapshot, "tender", "T-1", "u-21") == (False, False)
    assert decide(snapshot, "tender", "T-9", "u-3") == (False, False)


def event(entity_id: str, actor: str, recipients: dict[str, list[str]], **over: Any) -> Event:
    body = {
        "source": "tenders",
        "entity": {"type": "tender", "id": entity_id},
        "actor": {"id": actor},
        "recipients": recipients,
    }
    values: dict[str, Any] = {
        "tenant": "default",
        "source": "tenders",
        "source_event_id": f"{entity_id}-{actor}",
        "type": "tender.updated",
        "entity_type": "tender",
        "entity_id": entity_id,
        "body": body,
        "status": EventStatus.PROCESSED,
        **over,
    }
    return Event(**values)


async def seed_directory(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with transaction(sessions) as session:
        for user, manager in [("u-3", None), ("u-7", "u-3"), ("u-17", "u-3"), ("u-99", "u-98")]:
            session.add(Recipient(tenant="default", user_id=user, manager_id=manager))
        session.add(event("T-1", "u-7", {"assignee": ["u-17"]}))
        session.add(event("T-2", "u-3", {"owner": ["u-3"]}))
        # a rejected event names nobody; another module's event about "T-5" neither
        session.add(event("T-5", "u-99", {}, status=EventStatus.REJECTED, source_event_id="r"))
        session.add(event("T-5", "u-17", {}, source="design", source_event_id="d"))


async def ask(directory: HeraldDirectory, pairs: list[tuple[str, str]]) -> list[tuple[bool, bool]]:
    items = [
        {"id": i, "object_type": "tender", "object_id": obj, "user_id": user}
        for i, (obj, user) in enumerate(pairs)
    ]
    app = create_reference_app(directory)
    async with running(app) as client:
        resp = await client.post(
            "/permissions/check", json={"tenant": "default", "module": "tenders", "items": items}
        )
    assert resp.status_code == 200, resp.text
    answers = sorted(resp.json()["results"], key=lambda a: a["id"])
    return [(a["read"], a["write"]) for a in answers]


PAIRS = [("T-1", "u-17"), ("T-1", "u-7"), ("T-1", "u-3"), ("T-2", "u-17"), ("T-5", "u-17")]
EXPECTED = [(True, True), (True, True), (True, False), (False, False), (False, False)]


async def test_herald_directory_on_postgresql(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        await seed_directory(make_sessionmaker(engine))
    finally:
        await engine.dispose()
    assert await ask(HeraldDirectory(database_url), PAIRS) == EXPECTED


async def test_herald_directory_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'dev.db'}"
    await upgrade_async(url)
    engine = make_engine(url)
    try:
        await seed_directory(make_sessionmaker(engine))
    finally:
        await engine.dispose()
    assert await ask(HeraldDirectory(url), PAIRS) == EXPECTED


async def test_reference_backend_refuses_a_wrong_token() -> None:
    async with running(reference_app(token="t0ken")) as client:
        body = {"tenant": "default", "module": "tenders", "items": []}
        wrong = await client.post("/permissions/check", json=body, headers={"Authorization": "x"})
        right = await client.post(
            "/permissions/check", json=body, headers={"Authorization": "Bearer t0ken"}
        )
    assert (wrong.status_code, right.status_code) == (401, 200)


@pytest.mark.parametrize("body", [{}, {"tenant": "default", "module": "m", "items": [{"id": -1}]}])
async def test_reference_backend_validates_its_input(body: dict[str, Any]) -> None:
    async with running(reference_app()) as client:
        resp = await client.post("/permissions/check", json=body)
    assert resp.status_code == 422
