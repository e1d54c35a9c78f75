"""Who gets notified, and on which channels (DESIGN §5 steps 2-4), on real PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from libs.common.db.models import ChannelPreference, Delivery, EventType, Subscription
from tests.integration.services.processor.support import add, event, person, processor, rows, store

EMAIL, BROWSER, TELEGRAM = "email", "browser", "telegram"


def sub(user_id: str, filter_: list[dict[str, Any]], **over: Any) -> Subscription:
    values: dict[str, Any] = {
        "tenant": "default",
        "user_id": user_id,
        "name": "watch",
        "source": "tenders",
        "entity_type": "tender",
        "project_id": None,
        "filter": filter_,
        "channels": [],
    }
    values.update(over)
    return Subscription(**values)


async def run(sessions: async_sessionmaker[AsyncSession], url: str, body: dict[str, Any]) -> str:
    event_id = await store(sessions, body)
    worker = await processor(sessions, url)
    assert await worker.process_ids([event_id]) == 1
    return event_id


async def test_direct_recipients_by_role_and_missing_address(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await add(sessions, person("u-17"))  # u-3 is not in the directory: no e-mail address
    event_id = await run(sessions, database_url, event())
    assert await rows(sessions, event_id) == [
        ("u-17", "direct:assignee", BROWSER, "PENDING", "direct:assignee"),
        ("u-17", "direct:assignee", EMAIL, "PENDING", "direct:assignee"),
        ("u-3", "direct:owner", BROWSER, "PENDING", "direct:owner"),
        ("u-3", "direct:owner", EMAIL, "SKIPPED", "no e-mail address in the directory"),
    ]


async def test_actor_is_not_notified_unless_the_type_says_so(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    body = event(recipients={"assignee": ["u-7"], "owner": ["u-3"]})
    event_id = await run(sessions, database_url, body)
    assert {r[0] for r in await rows(sessions, event_id)} == {"u-3"}
    await add(
        sessions,
        EventType(key="tenders.tender.self", source="tenders", notify_actor=True,
                  default_channels=[BROWSER]),
    )  # fmt: skip
    event_id = await run(sessions, database_url, {**body, "id": "e-2", "type": "tender.self"})
    assert {r[0] for r in await rows(sessions, event_id)} == {"u-3", "u-7"}


async def test_roles_resolved_through_enrichment(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    """A subscription on role = designer fires for an event whose responsible person is a
    designer, not for one whose responsible person is an installer."""
    await add(
        sessions,
        person("u-designer", roles=["designer"]),
        person("u-installer", roles=["installer"]),
        person("u-90"),
    )
    await add(sessions, sub("u-90", [{"field": "responsible", "op": "roles_any",
                                      "value": ["designer"]}]))  # fmt: skip
    fired = []
    for who in ("u-designer", "u-installer"):
        attrs = {"responsible": [who]}
        body = event(entity={"type": "tender", "id": who, "attributes": attrs}, recipients={})
        fired.append(bool(await rows(sessions, await run(sessions, database_url, body))))
    assert fired == [True, False]


async def test_candidates_scoped_by_tenant_source_type_and_project(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await add(sessions, *(person(f"u-{i}") for i in range(6)))
    await add(
        sessions,
        sub("u-0", []),  # every tender event in every project
        sub("u-1", [], project_id="P-42"),
        sub("u-2", [], project_id="P-43"),
        sub("u-3", [], source="approvals"),
        sub("u-4", [], entity_type="remark"),
        sub("u-5", [], enabled=False),
    )
    other_tenant = sub("u-0", [])
    other_tenant.tenant = "other"
    await add(sessions, other_tenant)
    event_id = await run(sessions, database_url, event(recipients={}))
    assert {(r[0], r[1]) for r in await rows(sessions, event_id)} == {
        ("u-0", "subscription:1"),
        ("u-1", "subscription:2"),
    }


async def test_direct_and_two_overlapping_subscriptions_give_one_delivery_per_channel(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await add(sessions, person("u-17", telegram_chat_id="1717"))
    await add(
        sessions,
        sub("u-17", [{"field": "section", "op": "eq", "value": "basement"}],
            channels=[EMAIL, TELEGRAM]),
        sub("u-17", [], channels=[TELEGRAM, BROWSER]),
    )  # fmt: skip
    event_id = await run(sessions, database_url, event(recipients={"assignee": ["u-17"]}))
    got = await rows(sessions, event_id)
    live = sorted((r[2], r[3]) for r in got if r[3] != "SKIPPED")
    assert live == [(BROWSER, "PENDING"), (EMAIL, "PENDING"), (TELEGRAM, "PENDING")]
    skipped = sorted((r[2], r[4]) for r in got if r[3] == "SKIPPED")
    assert skipped == [
        (BROWSER, "duplicate: browser already planned for direct:assignee; "
                  "also asked by subscription:2"),
        (EMAIL, "duplicate: email already planned for direct:assignee; "
                "also asked by subscription:1"),
        (TELEGRAM, "duplicate: telegram already planned for subscription:1; "
                   "also asked by subscription:2"),
    ]  # fmt: skip
    assert {r[1] for r in got} == {"direct:assignee"}  # one inbox item, the first reason


async def test_preferences_digest_off_and_critical(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await add(sessions, person("u-17", telegram_chat_id="1717"))
    await add(
        sessions,
        ChannelPreference(tenant="default", user_id="u-17", source="tenders",
                          channel=EMAIL, mode="digest"),
        ChannelPreference(tenant="default", user_id="u-17", source="*",
                          channel=BROWSER, mode="off"),
        ChannelPreference(tenant="default", user_id="u-17", source="tenders",
                          channel=TELEGRAM, mode="instant"),
        EventType(key="tenders.tender.fire", source="tenders", critical=True,
                  default_channels=[EMAIL, BROWSER]),
    )  # fmt: skip
    body = event(recipients={"assignee": ["u-17"]})
    normal = await run(sessions, database_url, body)
    assert [(r[2], r[3], r[4]) for r in await rows(sessions, normal)] == [
        (BROWSER, "SKIPPED", "browser is off for tenders"),
        (EMAIL, "DIGEST", "direct:assignee"),
        (TELEGRAM, "PENDING", "direct:assignee"),  # switched on for this module
    ]
    critical = await run(sessions, database_url, {**body, "id": "e-2", "type": "tender.fire"})
    assert {(r[2], r[3]) for r in await rows(sessions, critical)} == {
        (BROWSER, "PENDING"),
        (EMAIL, "PENDING"),
        (TELEGRAM, "PENDING"),
    }
    async with sessions() as session:
        digest = (await session.scalars(select(Delivery).where(Delivery.status == "DIGEST"))).one()
    assert "Add fire-safety certificate" in digest.subject  # rendered like any other
    assert digest.body and digest.body_html and digest.next_attempt_at is None


async def test_disabled_event_type_is_processed_without_notifications(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await add(sessions, EventType(key="tenders.tender.noise", source="tenders", enabled=False))
    event_id = await run(sessions, database_url, event(type="tender.noise"))
    assert await rows(sessions, event_id) == []


async def test_a_broken_stored_filter_skips_only_that_subscription(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    """Filters are validated when saved; a row edited by hand must not stop the event."""
    await add(sessions, person("u-1"), person("u-2"), person("u-3"))
    await add(sessions, sub("u-1", []), sub("u-2", []), sub("u-3", []))
    async with engine.begin() as conn:  # behind the API's back
        await conn.execute(
            text("UPDATE subscriptions SET filter = CAST(:f AS jsonb) WHERE user_id = 'u-1'"),
            {"f": '[{"field": "section", "op": "bogus", "value": 1}]'},
        )
        await conn.execute(
            text("UPDATE subscriptions SET filter = CAST(:f AS jsonb) WHERE user_id = 'u-2'"),
            {"f": '[{"field": "section", "op": "between", "value": 5}]'},
        )
    event_id = await run(sessions, database_url, event(recipients={}))
    assert {r[0] for r in await rows(sessions, event_id)} == {"u-3"}
