"""Tenant overrides in the admin and the user API (DESIGN §15): a tenant's own template, event
type and e-mail layout beside the global ones (one per scope), the preview naming the row a
given tenant's event would use, and each tenant's users seeing their tenant's defaults."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import transaction
from libs.common.db.models import EmailLayout, EventType, Template, Tenant
from tests.integration.services.ingest.admin.admin_support import SAME_ORIGIN, admin_client
from tests.integration.services.ingest.user_api_data import auth, user_api

MEMORY = "memory://admin-overrides"
TYPE = "tenders.tender.requirement_added"
TEMPLATE = {
    "event_type": TYPE, "channel": "email", "locale": "ru", "subject": "{{ payload.title }}",
    "body": "ACME: {{ entity.id }}", "body_html": "",
}  # fmt: skip
EVENT_TYPE = {
    "key": TYPE, "source": "tenders", "title": "req", "category": "c", "default_channels": "[]",
    "default_locale": "ru", "enabled": "y",
}  # fmt: skip
LAYOUT = {
    "sender_name": "ACME", "header_html": "<b>ACME</b>", "footer_html": "", "header_text": "",
    "footer_text": "", "accent_color": "#ff0000", "background_color": "#ffffff",
    "text_color": "#000000",
}  # fmt: skip


async def _post(client: Any, path: str, data: dict[str, str]) -> Any:
    return await client.post(f"/admin/{path}", data=data, headers=SAME_ORIGIN)


async def test_overrides_are_saved_once_per_tenant_and_checked(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with admin_client(database_url, MEMORY) as client:
        types = [
            await _post(client, "event-type/create", {**EVENT_TYPE, "tenant": tenant})
            for tenant in ("", "acme", "acme", "nowhere")
        ]
        templates = [
            await _post(client, "template/create", {**TEMPLATE, "tenant": tenant})
            for tenant in ("acme", "acme", "nowhere")
        ]
        layouts = [
            await _post(client, "email-layout/create", {**LAYOUT, **extra})
            for extra in ({"tenant": "acme", "accent_color": "red"}, {"tenant": "acme"},
                          {"tenant": "acme"}, {"tenant": ""})
        ]  # fmt: skip
    assert [r.status_code for r in types] == [302, 302, 400, 400]
    assert "already" in types[2].text and "nowhere" in types[3].text
    assert [r.status_code for r in templates] == [302, 400, 400], templates[1].text[-300:]
    assert "already the one of acme" in templates[1].text
    assert [r.status_code for r in layouts] == [400, 302, 400, 302]
    assert "#RRGGBB" in layouts[0].text
    async with sessions() as session:
        scopes = sorted(str(t) for t in await session.scalars(select(EventType.tenant)))
        layout_scopes = sorted(str(t) for t in await session.scalars(select(EmailLayout.tenant)))
    assert scopes == ["None", "acme"] and layout_scopes == ["None", "acme"]


async def test_the_preview_names_the_row_a_tenants_event_would_use(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with transaction(sessions) as session:
        mine = Template(tenant="acme", event_type="*", channel="email", locale="ru", body="x")
        session.add(mine)
        await session.flush()
        global_id = await session.scalar(
            select(Template.id).where(
                Template.tenant.is_(None), Template.event_type == "*",
                Template.channel == "email", Template.locale == "ru",
            )
        )  # fmt: skip
    form = {**TEMPLATE, "tenant": "", "event_type": TYPE}
    async with admin_client(database_url, MEMORY) as client:
        used = {
            tenant: (
                await _post(client, "template/preview", {**form, "for_tenant": tenant})
            ).json()["used"]
            for tenant in ("acme", "beta")
        }
    assert used["acme"]["template_id"] == mine.id and used["acme"]["scope"] == "acme"
    assert "acme's own" in used["acme"]["description"]
    assert used["beta"]["template_id"] == global_id and used["beta"]["scope"] is None
    assert "every tenant" in used["beta"]["description"]


async def test_each_tenants_users_see_their_tenants_defaults(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with transaction(sessions) as session:
        session.add_all(
            [
                EventType(key=TYPE, source="tenders", default_channels=["email"]),
                EventType(tenant="beta", key=TYPE, source="tenders", default_channels=["sms"]),
            ]
        )
        modes = {"default_modes": {"tenders": {"email": "digest"}}}
        await session.execute(update(Tenant).where(Tenant.key == "acme").values(settings=modes))
    async with user_api(database_url) as http:
        views = {
            tenant: (await http.get("/v1/preferences", headers=auth("u-1", tenant))).json()
            for tenant in ("default", "acme", "beta")
        }
    channels = {
        tenant: next(m for m in view["modules"] if m["source"] == "tenders")["channels"]
        for tenant, view in views.items()
    }
    assert channels["default"]["email"]["mode"] == "instant"
    assert channels["acme"]["email"] == {**channels["default"]["email"], "mode": "digest"}
    assert channels["beta"]["email"]["mode"] == "off"  # beta's own row: sms, not e-mail
    assert channels["beta"]["sms"]["mode"] == "instant"
