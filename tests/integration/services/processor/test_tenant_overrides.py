"""Configuration with tenant overrides (DESIGN §15): event types, templates, the e-mail layout,
default channels and default modes exist globally and per tenant; the most specific wins.
Each lookup with and without an override, through the real processor."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.catalog.overrides import pick_template
from libs.common.db.engine import transaction
from libs.common.db.models import (
    ChannelPreference,
    Delivery,
    EmailLayout,
    EventType,
    Notification,
    Template,
    Tenant,
)
from tests.integration.services.processor.support import add, event, person, processor, store

TYPE = "tenders.tender.requirement_added"
OTHER_TYPE = "tenders.tender.closed"
Out = dict[tuple[str, str], tuple[str, str, str, str | None]]


def _template(tenant: str | None, key: str, subject: str, channel: str = "email") -> Template:
    return Template(
        tenant=tenant, event_type=key, channel=channel, locale="ru", subject=subject, body=subject
    )


async def _settings(sessions: async_sessionmaker[AsyncSession], tenant: str, **values: Any) -> None:
    async with transaction(sessions) as session:
        await session.execute(update(Tenant).where(Tenant.key == tenant).values(settings=values))


async def _run(sessions: async_sessionmaker[AsyncSession], database_url: str, *bodies: Any) -> Out:
    """(tenant, channel) → (status, subject, body, body_html) of each event's one recipient."""
    ids = [await store(sessions, body) for body in bodies]
    worker = await processor(sessions, database_url)
    assert await worker.process_ids(ids) == len(ids)
    async with sessions() as session:
        found = await session.execute(
            select(
                Delivery.tenant, Delivery.channel, Delivery.status, Delivery.subject,
                Delivery.body, Delivery.body_html,
            ).join(Notification, Delivery.notification_id == Notification.id)
            .where(Notification.event_id.in_(ids))
        )  # fmt: skip
        return {(t, c): (st, s, b, h) for t, c, st, s, b, h in found.all()}


def _for(tenant: str, type_: str = "tender.requirement_added") -> dict[str, Any]:
    return event(tenant=tenant, type=type_, recipients={"assignee": ["u-17"]})


def _people() -> list[Any]:
    return [person("u-17", tenant=t) for t in ("default", "acme", "beta")]


async def test_templates_and_event_types_with_and_without_an_override(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await add(
        sessions,
        *_people(),
        EventType(key=TYPE, source="tenders", default_channels=["email"]),
        EventType(tenant="acme", key=TYPE, source="tenders", default_channels=["email", "browser"]),
        EventType(tenant="beta", key=OTHER_TYPE, source="tenders", enabled=False),
        _template(None, TYPE, "global type text"),
        _template("acme", TYPE, "acme type text"),
        _template("acme", "*", "acme channel default"),
    )  # fmt: skip
    out = await _run(
        sessions, database_url,
        _for("default"), _for("acme"), _for("beta"),  # TYPE: global, acme's, global
    )  # fmt: skip
    assert out[("default", "email")][1] == "global type text"
    assert out[("acme", "email")][1] == "acme type text"
    assert out[("beta", "email")][1] == "global type text"
    assert ("acme", "browser") in out and ("default", "browser") not in out  # acme's type row
    closed = await _run(
        sessions, database_url, _for("default", "tender.closed"), _for("acme", "tender.closed"),
        _for("beta", "tender.closed"),
    )  # fmt: skip
    # no template for the type: the channel default, acme's own before the global one
    assert closed[("acme", "email")][1] == "acme channel default"
    assert closed[("default", "email")][1].startswith("[tenders]")  # the seeded global default
    assert not any(tenant == "beta" for tenant, _ in closed)  # beta disabled the type


async def test_the_email_layout_of_the_tenant_or_the_global_one(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await add(
        sessions,
        *_people(),
        EmailLayout(tenant=None, footer_html="<p>global footer</p>", footer_text="global footer"),
        EmailLayout(
            tenant="acme", sender_name="ACME Notifications", header_html="<b>ACME</b>",
            header_text="ACME", footer_text="acme footer", accent_color="#ff0000",
            background_color="#000000", text_color="#ffffff",
        ),
    )  # fmt: skip
    out = await _run(sessions, database_url, _for("default"), _for("acme"))
    _, _, acme_text, acme_html = out[("acme", "email")]
    assert acme_html is not None and "<b>ACME</b>" in acme_html and "#ff0000" in acme_html
    assert "background:#000000" in acme_html and "global footer" not in acme_html
    assert acme_text.startswith("ACME\n\n") and acme_text.endswith("acme footer\n")
    _, _, text, html = out[("default", "email")]
    assert html is not None and "global footer" in html and text.endswith("global footer\n")
    assert out[("acme", "browser")][3] is None  # only e-mail is laid out


async def test_default_modes_and_default_channels_are_tenant_settings(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    await add(
        sessions,
        *_people(),
        person("u-18", tenant="acme"),
        ChannelPreference(
            tenant="acme", user_id="u-18", source="*", channel="email", mode="instant"
        ),
    )  # fmt: skip
    await _settings(sessions, "acme", default_modes={"tenders": {"email": "digest"}})
    await _settings(sessions, "beta", default_channels=["browser"])
    chosen = event(tenant="acme", recipients={"assignee": ["u-18"]})
    out = await _run(sessions, database_url, _for("default"), _for("acme"), _for("beta"))
    assert out[("default", "email")][0] == "PENDING"  # no tenant default: instant
    assert out[("acme", "email")][0] == "DIGEST"  # the tenant's default mode for tenders
    assert {c for t, c in out if t == "beta"} == {"browser"}  # the tenant's default channels
    own = await _run(sessions, database_url, chosen)
    assert own[("acme", "email")][0] == "PENDING"  # the user's own choice beats the tenant's


def test_the_template_lookup_order() -> None:
    rows = {
        (None, (TYPE, "email", "ru")): "global type ru",
        ("acme", (TYPE, "email", "en")): "acme type en",
        ("acme", ("*", "email", "ru")): "acme default ru",
        (None, ("*", "email", "ru")): "global default ru",
        (None, ("*", "email", "en")): "global default en",
    }

    def pick(tenant: str, key: str, locale: str) -> str | None:
        return pick_template(rows, tenant, key, "email", locale, "ru")

    assert pick("acme", TYPE, "en") == "acme type en"  # the tenant's row
    assert pick("beta", TYPE, "en") == "global type ru"  # no override: global, type's locale
    assert pick("acme", TYPE, "ru") == "global type ru"  # a type's text beats a channel default
    assert pick("acme", OTHER_TYPE, "ru") == "acme default ru"
    assert pick("beta", OTHER_TYPE, "en") == "global default en"
    assert pick_template(rows, "acme", TYPE, "sms", "ru", "ru") is None
