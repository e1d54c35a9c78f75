"""Demo data for ``herald dev``: a few people, event types and a subscription."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import ChannelPreference, EventType, Recipient, Subscription, Template

DEMO_USERS = [
    # user, e-mail, locale, roles, manager
    ("u-3", "owner@example.com", "ru", ["manager"], None),
    ("u-7", "actor@example.com", "ru", ["engineer"], "u-3"),
    ("u-17", "designer@example.com", "ru", ["designer"], "u-3"),
    ("u-21", "installer@example.com", "en", ["installer"], "u-3"),
]


async def seed_demo(session: AsyncSession) -> None:
    if await session.scalar(select(Recipient).limit(1)) is not None:
        return
    for user_id, email, locale, roles, manager in DEMO_USERS:
        session.add(
            Recipient(
                tenant="default",
                user_id=user_id,
                email=email,
                locale=locale,
                roles=roles,
                company_id="c-1",
                manager_id=manager,
                timezone="Europe/Moscow",
                attributes={},
            )
        )
    session.add_all(
        [
            EventType(
                key="tenders.tender.requirement_added",
                source="tenders",
                title="Tender requirement added",
                category="tenders",
                critical=False,
                digestible=True,
                default_channels=["email", "browser"],
            ),
            EventType(
                key="approvals.approval.overdue",
                source="approvals",
                title="Approval overdue",
                category="approvals",
                critical=True,
                digestible=False,
                default_channels=["email", "browser"],
            ),
        ]
    )
    session.add(
        Subscription(
            tenant="default",
            user_id="u-21",
            name="Basement remarks due within 7 days",
            source="tenders",
            entity_type="tender",
            project_id="P-42",
            filter=[
                {"field": "section", "op": "eq", "value": "basement"},
                {"field": "deadline", "op": "within_days", "value": 7},
            ],
            channels=["browser"],
        )
    )
    session.add_all(_demo_admin_rows())
    await session.flush()


# What the admin UI shows from the first click: a type-specific e-mail template to edit and
# preview (ru + en) and a per-module preference (u-21 reads approvals in a digest).
_REQ_SUBJECT = "[{{ event.source }}] {{ payload.title | default(event.type) }}"
_REQ_BODY = {
    "ru": "Новое требование по тендеру {{ entity.id }}: {{ payload.title }}\n"
    "Срок: {{ entity.attributes.deadline | default('не указан') }}\n",
    "en": "New requirement on tender {{ entity.id }}: {{ payload.title }}\n"
    "Deadline: {{ entity.attributes.deadline | default('none') }}\n",
}


def _demo_admin_rows() -> list[Template | ChannelPreference]:
    rows: list[Template | ChannelPreference] = [
        Template(
            event_type="tenders.tender.requirement_added",
            channel="email",
            locale=locale,
            subject=_REQ_SUBJECT,
            body=body,
        )
        for locale, body in _REQ_BODY.items()
    ]
    rows.append(
        ChannelPreference(
            tenant="default", user_id="u-21", source="approvals", channel="email", mode="digest"
        )
    )
    return rows
