"""Templates (DESIGN §5 step 5, §13): choice by (type, channel, locale) with fallbacks, the
sandbox, and a template error rolling the whole event back."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import Delivery, EventType, Notification, Template
from tests.integration.services.processor.support import (
    add,
    event,
    event_row,
    person,
    processor,
    store,
)

TYPE = "tenders.tender.requirement_added"


def template(channel: str, locale: str, subject: str, body: str, key: str = TYPE) -> Template:
    return Template(event_type=key, channel=channel, locale=locale, subject=subject, body=body)


async def _texts(
    sessions: async_sessionmaker[AsyncSession], event_id: str
) -> dict[tuple[str, str], tuple[str, str]]:
    async with sessions() as session:
        found = await session.execute(
            select(Notification.user_id, Delivery.channel, Delivery.subject, Delivery.body)
            .join(Delivery, Delivery.notification_id == Notification.id)
            .where(Notification.event_id == event_id)
        )
        return {(u, c): (s, b) for u, c, s, b in found.all()}


async def test_template_chosen_by_type_channel_locale_with_fallbacks(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await add(
        sessions,
        person("u-en", locale="en"),
        person("u-ru", locale="ru"),
        person("u-de", locale="de", attributes={"name": "Jonas"}),
        EventType(key=TYPE, source="tenders", default_locale="ru", default_channels=["email"]),
        template("email", "en", "New requirement: {{ payload.title }}", "EN body"),
        template("email", "ru", "Новое требование: {{ payload.title }}",
                 "Для {{ recipient.user_id }}"),
        template("inbox", "ru", "{{ payload.title }}", "{{ entity.id }}"),
    )  # fmt: skip
    body = event(recipients={"assignee": ["u-en", "u-ru", "u-de"]})
    event_id = await store(sessions, body)
    assert await (await processor(sessions, database_url)).process_ids([event_id]) == 1
    texts = await _texts(sessions, event_id)
    assert texts[("u-en", "email")] == ("New requirement: Add fire-safety certificate", "EN body")
    assert texts[("u-ru", "email")] == ("Новое требование: Add fire-safety certificate", "Для u-ru")
    # no German template: the type's default locale, rendered for this person
    assert texts[("u-de", "email")][1] == "Для u-de"
    async with sessions() as session:
        titles = set((await session.scalars(select(Notification.body))).all())
    assert titles == {"T-1001"}  # the type's inbox template


async def test_sandbox_escape_fails_safely_and_is_reported(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    evil = "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    await add(sessions, person("u-17"), template("email", "ru", "hi", evil))
    event_id = await store(sessions, event(recipients={"assignee": ["u-17"], "owner": ["u-3"]}))
    worker = await processor(sessions, database_url, processor_max_attempts=1)
    assert await worker.process_ids([event_id]) == 0
    row = await event_row(sessions, event_id)
    assert row.status == "failed"
    assert row.error is not None and "TemplateRenderError" in row.error
    assert "template" in row.error and "__class__" in row.error  # says which and why
    assert await _texts(sessions, event_id) == {}  # u-3's rows were rolled back too


async def test_admin_edit_is_picked_up_after_the_cache_ttl(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await add(sessions, person("u-17"), template("email", "ru", "v1", "body"))
    worker = await processor(sessions, database_url)  # TTL 0 in tests
    first = await store(sessions, event(recipients={"assignee": ["u-17"]}))
    await worker.process_ids([first])
    async with sessions() as session, session.begin():
        row = (await session.scalars(select(Template).where(Template.event_type == TYPE))).one()
        row.subject, row.version = "v2", 2
    second = await store(sessions, event(recipients={"assignee": ["u-17"]}))
    await worker.process_ids([second])
    assert (await _texts(sessions, first))[("u-17", "email")][0] == "v1"
    assert (await _texts(sessions, second))[("u-17", "email")][0] == "v2"
