"""Every operator and scope through the real preview (POST /v1/subscriptions/preview): the
same cases the processor test runs (tests/integration/services/filter_cases.py), the same
answers."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.recipients.memberships import Membership, replace_memberships
from tests.integration.services.filter_cases import BODY, CASES, PEOPLE
from tests.integration.services.ingest.user_api_data import auth, user_api
from tests.integration.services.processor.support import add, event, person, store

ALICE = auth("alice")


def _preview(filter_: list[dict[str, Any]], **over: Any) -> dict[str, Any]:
    return {"source": "tenders", "entity_type": "tender", "filter": filter_, **over}


async def test_every_operator_and_scope_through_the_preview(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await add(sessions, *(person(user, **fields) for user, fields in PEOPLE.items()))
    await store(sessions, BODY)
    fired = set()
    async with user_api(database_url, preview_burst=len(CASES)) as http:
        for name, filter_, _ in CASES:
            resp = await http.post(
                "/v1/subscriptions/preview", json=_preview(filter_), headers=ALICE
            )
            assert resp.status_code == 200, (name, resp.text)
            result = resp.json()
            assert result["scanned"] == 1, name
            if result["matched"]:
                fired.add(name)
    assert fired == {name for name, _, fires in CASES if fires}


async def test_the_preview_scans_only_the_types_asked_for(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    for kind in ("tender.created", "tender.closed", "tender.commented"):
        await store(sessions, event(type=kind))
    async with user_api(database_url) as http:
        some = _preview([], types=["tender.created", "tender.closed"])
        resp = await http.post("/v1/subscriptions/preview", json=some, headers=ALICE)
        every = await http.post("/v1/subscriptions/preview", json=_preview([]), headers=ALICE)
    assert resp.status_code == 200, resp.text
    assert sorted(e["type"] for e in resp.json()["events"]) == ["tender.closed", "tender.created"]
    assert every.json()["matched"] == 3


async def test_the_preview_reads_dates_in_the_callers_zone(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Like the processor does for a subscriber: alice is in New York, bob in Moscow."""
    await add(sessions, person("alice", timezone="America/New_York"))
    await add(sessions, person("bob", timezone="Europe/Moscow"))
    late = event(
        occurred_at="2026-11-26T22:30:00Z",
        entity={"type": "tender", "id": "T-9", "attributes": {"deadline": "2026-11-26"}},
    )
    await store(sessions, late)
    overdue = _preview([{"field": "deadline", "op": "overdue"}])
    due_today = _preview([{"field": "deadline", "op": "due_within_days", "value": 0}])
    answers = {}
    async with user_api(database_url) as http:
        for who in ("alice", "bob"):
            for name, body in (("overdue", overdue), ("due today", due_today)):
                resp = await http.post("/v1/subscriptions/preview", json=body, headers=auth(who))
                answers[(who, name)] = resp.json()["matched"]
    assert answers == {
        ("alice", "overdue"): 0,
        ("alice", "due today"): 1,
        ("bob", "overdue"): 1,
        ("bob", "due today"): 0,
    }


async def test_the_preview_reads_roles_in_each_events_project(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """u-40 is a designer on P-42 only: the preview matches the P-42 event, not the P-43 one."""
    await add(sessions, person("u-40"))
    async with sessions.begin() as session:
        designer = {"P-42": Membership(roles=["designer"], company_id="c-5")}
        await replace_memberships(session, "default", "u-40", designer)
    for project in ("P-42", "P-43"):
        attrs = {"responsible": ["u-40"]}
        entity = {"type": "tender", "id": f"T-{project}", "attributes": attrs}
        await store(sessions, event(project_id=project, entity=entity))
    designers = _preview([{"field": "responsible", "op": "roles_any", "value": ["designer"]}])
    of_c5 = _preview([{"field": "responsible", "op": "companies_any", "value": ["c-5"]}])
    async with user_api(database_url) as http:
        for body in (designers, of_c5):
            resp = await http.post("/v1/subscriptions/preview", json=body, headers=ALICE)
            result = resp.json()
            assert (result["scanned"], result["matched"]) == (2, 1), result
            assert result["events"][0]["project_id"] == "P-42"
