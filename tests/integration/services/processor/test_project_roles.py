"""Roles and companies per project (DESIGN §5.2): roles_any / companies_any evaluate in the
event's project, and an event's audience is resolved through the directory there."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import Subscription
from tests.integration.services.processor.support import (
    add,
    event,
    event_row,
    person,
    processor,
    rows,
    store,
)


def directory_update(user_id: str, **payload: Any) -> dict[str, Any]:
    return event(
        source="directory", type="user.updated", actor=None, recipients={},
        entity={"type": "user", "id": user_id, "attributes": {}}, payload=payload,
    )  # fmt: skip


def sub(user_id: str, filter_: list[dict[str, Any]]) -> Subscription:
    return Subscription(
        tenant="default", user_id=user_id, name="watch", source="tenders",
        entity_type="tender", project_id=None, filter=filter_, channels=[],
    )  # fmt: skip


async def _run(
    sessions: async_sessionmaker[AsyncSession], url: str, *bodies: Any, **over: Any
) -> list[str]:
    ids = [await store(sessions, b) for b in bodies]
    worker = await processor(sessions, url, **over)
    for event_id in ids:  # in order: a directory update first
        await worker.process_ids([event_id])
    return ids


async def _reasons(
    sessions: async_sessionmaker[AsyncSession], event_id: str
) -> set[tuple[str, str]]:
    return {(r[0], r[1]) for r in await rows(sessions, event_id)}


async def test_roles_and_companies_are_those_of_the_events_project(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    """u-40 is a designer at c-5 on P-42 and an installer at c-6 on P-43 (set by a directory
    event); u-41 is a manager everywhere."""
    await add(sessions, person("u-41", roles=["manager"]), *(person(f"u-{k}") for k in range(4)))
    await add(
        sessions,
        sub("u-0", [{"field": "responsible", "op": "roles_any", "value": ["designer"]}]),
        sub("u-1", [{"field": "responsible", "op": "companies_any", "value": ["c-6"]}]),
        sub("u-2", [{"field": "responsible", "op": "roles_any", "value": ["manager"]}]),
        sub("u-3", [{"field": "responsible", "op": "companies_any", "value": ["c-1"]}]),
    )
    projects = {"P-42": {"roles": ["designer"], "company_id": "c-5"},
                "P-43": {"roles": ["installer"], "company_id": "c-6"}}  # fmt: skip
    update = directory_update("u-40", company_id="c-1", projects=projects)

    def about(project: str, who: str) -> dict[str, Any]:
        entity = {
            "type": "tender",
            "id": f"T-{project}-{who}",
            "attributes": {"responsible": [who]},
        }
        return event(project_id=project, recipients={}, entity=entity)

    bodies = [about("P-42", "u-40"), about("P-43", "u-40"), about("P-44", "u-40"),
              about("P-42", "u-41"), about("P-43", "u-41")]  # fmt: skip
    _, *ids = await _run(sessions, database_url, update, *bodies)
    fired = [{r[0] for r in await rows(sessions, i)} for i in ids]
    assert fired == [
        {"u-0"},  # a designer on P-42, at c-5 there
        {"u-1"},  # an installer at c-6 on P-43
        {"u-3"},  # no membership on P-44: their own company, no role
        {"u-2"},  # a manager everywhere
        {"u-2"},
    ]


async def test_an_audience_is_resolved_in_the_events_project(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await add(sessions, person("d-everywhere", roles=["designer"]), person("i-1"), person("d-1"),
              person("d-43"), person("d-c6"), person("u-7", roles=["designer"]))  # fmt: skip
    updates = [
        directory_update("d-1", projects={"P-42": {"roles": ["designer"]}}),
        directory_update("d-43", projects={"P-43": {"roles": ["designer"]}}),
        directory_update("i-1", projects={"P-42": {"roles": ["installer"], "company_id": "c-5"}}),
        directory_update("d-c6", projects={"P-42": {"roles": ["designer"], "company_id": "c-6"}}),
    ]

    def addressed(name: str, **who: Any) -> dict[str, Any]:
        return event(id=name, audience=who, recipients={"assignee": ["u-17"]})

    bodies = [
        addressed("designers", roles=["designer"]),
        addressed("installers of c-5", roles=["designer", "installer"], companies=["c-5"]),
        addressed("people of c-6", companies=["c-6"]),
    ]
    *_, designers, c5, c6 = await _run(sessions, database_url, *updates, *bodies)
    assert await _reasons(sessions, designers) == {
        ("u-17", "direct:assignee"),
        ("d-everywhere", "audience:designer"),  # a designer everywhere is one on P-42 too
        ("d-1", "audience:designer"),
        ("d-c6", "audience:designer"),
    }  # not d-43 (a designer elsewhere), not u-7 (the actor)
    assert await _reasons(sessions, c5) == {
        ("u-17", "direct:assignee"),
        ("i-1", "audience:installer"),
    }
    assert await _reasons(sessions, c6) == {
        ("u-17", "direct:assignee"),
        ("d-c6", "audience:company:c-6"),
    }


async def test_an_audience_counts_against_the_recipient_cap(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    """Three designers plus the assignee are four people: a cap of 3 fails the event with the
    reason (and notifies nobody), a cap of 4 lets it through."""
    await add(sessions, *(person(f"d-{i}", roles=["designer"]) for i in range(3)))
    body = event(audience={"roles": ["designer"]}, recipients={"assignee": ["u-17"]})
    [over] = await _run(sessions, database_url, body, max_recipients_per_event=3)
    failed = await event_row(sessions, over)
    assert failed.status == "received" and failed.attempts == 1
    assert failed.error is not None and "too_many_recipients" in failed.error
    assert await rows(sessions, over) == []
    [fits] = await _run(sessions, database_url, {**body, "id": "again"}, max_recipients_per_event=4)
    assert {r[0] for r in await rows(sessions, fits)} == {"u-17", "d-0", "d-1", "d-2"}


async def test_someone_named_directly_and_by_the_audience_counts_once_against_the_cap(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    """The assignee is a designer too: three designers are three people, not four, so a cap
    of 3 lets the event through (the assignee keeps the direct reason)."""
    await add(sessions, *(person(f"d-{i}", roles=["designer"]) for i in range(3)))
    body = event(audience={"roles": ["designer"]}, recipients={"assignee": ["d-0"]})
    [fits] = await _run(sessions, database_url, body, max_recipients_per_event=3)
    assert (await event_row(sessions, fits)).status == "processed"
    found = {r[0]: r[1] for r in await rows(sessions, fits)}
    assert set(found) == {"d-0", "d-1", "d-2"}
    assert found["d-0"].startswith("direct:assignee")
    [over] = await _run(sessions, database_url, {**body, "id": "again"}, max_recipients_per_event=2)
    assert (await event_row(sessions, over)).status == "received"  # 3 people > 2: refused
