"""Every operator and scope of a saved filter through the real processor (DESIGN §5.2), and
subscriptions restricted to some event types."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import make_engine, make_sessionmaker, transaction
from libs.common.db.migrate import upgrade_async
from libs.common.db.models import Subscription
from libs.common.recipients.memberships import Membership, replace_memberships
from tests.integration.services.filter_cases import BODY, CASES, PEOPLE
from tests.integration.services.processor.support import add, event, person, processor, rows, store


def sub(user_id: str, filter_: list[dict[str, Any]], **over: Any) -> Subscription:
    values: dict[str, Any] = {
        "tenant": "default",
        "user_id": user_id,
        "name": "watch",
        "source": "tenders",
        "entity_type": "tender",
        "filter": filter_,
        "channels": [],
    }
    return Subscription(**{**values, **over})


async def _notified(
    sessions: async_sessionmaker[AsyncSession], url: str, body: dict[str, Any]
) -> set[str]:
    event_id = await store(sessions, body)
    assert await (await processor(sessions, url)).process_ids([event_id]) == 1
    return {r[0] for r in await rows(sessions, event_id)}


async def test_every_operator_and_scope_through_the_pipeline(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    """One subscriber per case, one event: exactly the cases that should fire do."""
    await add(sessions, *(person(user, **fields) for user, fields in PEOPLE.items()))
    await add(sessions, *(person(f"u-case-{i}") for i in range(len(CASES))))
    await add(sessions, *(sub(f"u-case-{i}", f) for i, (_, f, _) in enumerate(CASES)))
    got = await _notified(sessions, database_url, BODY)
    fired = {name for i, (name, _, _) in enumerate(CASES) if f"u-case-{i}" in got}
    assert fired == {name for name, _, fires in CASES if fires}


async def test_a_subscription_follows_only_its_event_types(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await add(sessions, person("u-all"), person("u-created"), person("u-closed"))
    await add(
        sessions,
        sub("u-all", []),
        sub("u-created", [], types=["tender.created", "tender.reopened"]),
        sub("u-closed", [], types=["tender.closed"]),
    )
    for kind, expected in [
        ("tender.created", {"u-all", "u-created"}),
        ("tender.closed", {"u-all", "u-closed"}),
        ("tender.commented", {"u-all"}),
    ]:
        assert await _notified(sessions, database_url, event(type=kind, recipients={})) == expected


LATE_EVENING = "2026-11-26T22:30:00Z"  # 01:30 next day in Moscow, 17:30 in New York
DUE_TODAY = {"type": "tender", "id": "T-9", "attributes": {"deadline": "2026-11-26"}}


async def test_dates_are_read_in_the_subscribers_zone(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    """The same deadline is overdue in Moscow and due today in New York."""
    overdue = [{"field": "deadline", "op": "overdue", "value": True}]
    due_today = [{"field": "deadline", "op": "due_within_days", "value": 0}]
    zones = {"msk": "Europe/Moscow", "ny": "America/New_York"}
    await add(sessions, *(person(f"u-{z}-{k}", timezone=tz) for z, tz in zones.items()
                          for k in ("overdue", "due")))  # fmt: skip
    await add(
        sessions,
        *(sub(f"u-{z}-overdue", overdue) for z in zones),
        *(sub(f"u-{z}-due", due_today) for z in zones),
        sub("u-unknown", overdue),  # not in the directory: the default zone (Moscow)
    )
    body = event(occurred_at=LATE_EVENING, entity=DUE_TODAY, recipients={})
    got = await _notified(sessions, database_url, body)
    assert got == {"u-msk-overdue", "u-ny-due", "u-unknown"}


async def test_the_embedded_database_matches_alike(tmp_path: Path) -> None:
    """herald dev's SQLite takes the portable statements (candidates by key, memberships, an
    audience): the same cases, the same answers."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'herald.db'}"
    await upgrade_async(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    try:
        await add(sessions, *(person(user, **fields) for user, fields in PEOPLE.items()))
        await add(sessions, *(person(f"u-case-{i}") for i in range(len(CASES))))
        await add(sessions, *(sub(f"u-case-{i}", f) for i, (_, f, _) in enumerate(CASES)))
        await add(
            sessions, sub("u-own", [], project_id="P-42"), sub("u-other", [], project_id="P-1")
        )
        async with transaction(sessions) as session:
            await replace_memberships(
                session, "default", "u-d", {"P-42": Membership(roles=["designer"])}
            )
        await add(sessions, person("u-d"))
        body = {**BODY, "audience": {"roles": ["designer"]}}
        got = await _notified(sessions, url, body)
        fired = {name for i, (name, _, _) in enumerate(CASES) if f"u-case-{i}" in got}
        assert fired == {name for name, _, fires in CASES if fires}
        assert {"u-own", "u-d"} <= got and "u-other" not in got
    finally:
        await engine.dispose()
