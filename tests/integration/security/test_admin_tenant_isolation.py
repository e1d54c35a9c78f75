"""Tenant-scoped admin accounts (DESIGN §15): an admin bound to ``acme`` walks every admin view
(read from the mounted admin: a new view without a row here fails the test) and every action,
and meets nothing of ``beta`` — lists, filter choices and exports leave it out, its rows are
403/404 on details, edit and delete, it can be neither created nor acted on, and the global
configuration is shown but not changed; what belongs to no tenant is for global admins."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from sqladmin import ModelView
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import transaction
from libs.common.db.models import Delivery, Event, EventType, Template, Tenant
from services.ingest.admin.mount import VIEWS
from services.ingest.admin.passwords import hash_password
from services.ingest.admin.users import set_admin_user
from tests.apps import running
from tests.integration.security.admin_tenants import MARK, MINE, THEIRS, Seeded, seed_two_tenants
from tests.integration.services.ingest.admin.admin_support import (
    ADMIN_PASSWORD,
    SAME_ORIGIN,
    admin_app,
    login,
)

BOUND = "acme-ops"
NOT_HERE = {403, 404}
# model views only for global admins (none: a rejected message is its named tenant's, a
# tenantless one global-only, test_rejected_tenant.py); the dead letters page is checked apart
GLOBAL_ONLY: set[str] = set()
Sessions = async_sessionmaker[AsyncSession]


@asynccontextmanager
async def bound_admin(database_url: str, sessions: Sessions) -> AsyncIterator[httpx.AsyncClient]:
    async with transaction(sessions) as session:
        await set_admin_user(session, BOUND, ADMIN_PASSWORD, [MINE])
    async with running(admin_app(database_url, "memory://admin-isolation")) as client:
        assert (await login(client, BOUND)).status_code == 302
        yield client


def model_views() -> list[type[ModelView]]:
    """Every model view the admin mounts (services/ingest/admin/__init__.py)."""
    return [v for v in VIEWS if issubclass(v, ModelView)]


async def test_every_model_view_hides_the_other_tenant(
    database_url: str, sessions: Sessions
) -> None:
    seeded = await seed_two_tenants(sessions)
    async with bound_admin(database_url, sessions) as client:
        views = model_views()
        assert {v.identity for v in views} <= set(seeded.pks), "a view without a seeded row"
        for view in views:
            await _walk(client, view, seeded)
    await _nothing_changed(sessions)


async def _walk(client: httpx.AsyncClient, view: type[ModelView], seeded: Seeded) -> None:
    identity = view.identity
    theirs = seeded.pks[identity][THEIRS]
    listing = await client.get(f"/admin/{identity}/list?pageSize=100")
    export = await client.get(f"/admin/{identity}/export/csv")
    if identity in GLOBAL_ONLY:
        assert listing.status_code == export.status_code == 403, identity
        assert (await client.get(f"/admin/{identity}/details/{theirs}")).status_code == 403
        return
    assert listing.status_code == export.status_code == 200, identity
    mine = seeded.pks[identity][MINE]
    for page in (listing.text, export.text):
        assert MARK[THEIRS] not in page and f'/details/{theirs}"' not in page, identity
    assert f"/details/{mine}" in listing.text, identity  # the probe shows the own row
    details = await client.get(f"/admin/{identity}/details/{theirs}")
    assert details.status_code in NOT_HERE and MARK[THEIRS] not in details.text, identity
    assert (await client.get(f"/admin/{identity}/details/{mine}")).status_code == 200
    if view.can_edit:
        form = await client.get(f"/admin/{identity}/edit/{theirs}")
        saved = await client.post(
            f"/admin/{identity}/edit/{theirs}", data={"name": "x"}, headers=SAME_ORIGIN
        )
        assert form.status_code in NOT_HERE and saved.status_code in NOT_HERE, identity
    if view.can_delete:
        gone = await client.delete(f"/admin/{identity}/delete?pks={theirs}", headers=SAME_ORIGIN)
        assert gone.status_code in NOT_HERE, identity
    if view.can_create and identity != "tenant":
        made = await client.post(
            f"/admin/{identity}/create", data=_form(identity), headers=SAME_ORIGIN
        )
        assert made.status_code in {400, *NOT_HERE}, (identity, made.status_code)


def _form(identity: str) -> dict[str, str]:
    """A form that would be valid but for its tenant (beta) — or for a global row."""
    common = {"tenant": THEIRS, "user_id": "u-x", "source": "tenders", "channel": "email"}
    return {
        "event-type": {**common, "key": "tenders.x", "title": "x", "category": "c",
                       "default_channels": "[]", "default_locale": "ru", "enabled": "y"},
        "template": {**common, "event_type": "*", "locale": "en", "subject": "x", "body": "x"},
        "email-layout": {**common, "accent_color": "#000000", "background_color": "#ffffff",
                         "text_color": "#000000"},
        "recipient": {**common, "locale": "ru", "timezone": "UTC", "roles": "[]",
                      "attributes": "{}"},
        "subscription": {**common, "name": "x", "entity_type": "tender", "filter": "[]",
                         "channels": '["email"]', "enabled": "y"},
        "channel-preference": {**common, "mode": "instant"},
        "digest-schedule": {**common, "days_of_week": "[0]", "time_of_day": "09:00",
                            "timezone": "UTC", "enabled": "y"},
    }.get(identity, common)  # fmt: skip


async def _nothing_changed(sessions: Sessions) -> None:
    """Every beta row is still there, unchanged; no row was made for beta or globally."""
    async with sessions() as s:
        beta_types = await s.scalar(
            select(func.count()).select_from(EventType).where(EventType.tenant == THEIRS)
        )
        new_keys = await s.scalar(
            select(func.count()).select_from(EventType).where(EventType.key == "tenders.x")
        )
        en_star = await s.scalar(
            select(func.count())
            .select_from(Template)
            .where(Template.tenant == THEIRS, Template.locale == "en")
        )
        event = await s.get(Event, f"ev-{MARK[THEIRS]}")
        beta = await s.get(Tenant, THEIRS)
    assert (beta_types, new_keys, en_star) == (1, 0, 0)
    assert event is not None and event.status == "failed"
    assert beta is not None and beta.enabled


async def test_actions_refuse_the_other_tenants_rows(database_url: str, sessions: Sessions) -> None:
    seeded = await seed_two_tenants(sessions)
    both = ",".join(seeded.pks["delivery"][t] for t in (MINE, THEIRS))
    events = ",".join(seeded.pks["event"][t] for t in (MINE, THEIRS))
    async with bound_admin(database_url, sessions) as client:
        retried = await client.get(f"/admin/delivery/action/retry?pks={both}", headers=SAME_ORIGIN)
        redone = await client.get(
            f"/admin/event/action/reprocess?pks={events}", headers=SAME_ORIGIN
        )
    assert retried.status_code == redone.status_code == 302
    async with sessions() as s:
        statuses = dict((await s.execute(select(Delivery.tenant, Delivery.status))).all())
        accepted = select(Event.tenant, Event.status).where(Event.status != "rejected")
        event_states = dict((await s.execute(accepted)).all())
    assert statuses == {MINE: "PENDING", THEIRS: "FAILED"}  # only acme's was retried
    assert event_states[MINE] == "received" and event_states[THEIRS] == "failed"


async def test_pages_of_their_own(database_url: str, sessions: Sessions) -> None:
    seeded = await seed_two_tenants(sessions)
    user = f"u-{MARK[THEIRS]}"
    async with bound_admin(database_url, sessions) as client:
        story = await client.get(f"/admin/story?user={user}&tenant={THEIRS}")
        own_story = await client.get(f"/admin/story?user=u-{MARK[MINE]}")  # its tenant first
        dead = await client.get("/admin/dead-letters")
        replay = await client.post(
            "/admin/dead-letters/replay", data={"queue": "herald.ingest"}, headers=SAME_ORIGIN
        )
        preview = {
            case: await client.post("/admin/template/preview", data=form, headers=SAME_ORIGIN)
            for case, form in {
                "their template": {"tenant": THEIRS, "event_type": "*", "body": "x"},
                "their events": {"for_tenant": THEIRS, "event_type": "*", "body": "x"},
                "mine": {"event_type": "*", "channel": "email", "locale": "ru", "body": "x"},
            }.items()
        }
        global_edit = await client.post(
            f"/admin/event-type/edit/{seeded.global_event_type}", data={"title": "x"},
            headers=SAME_ORIGIN,
        )  # fmt: skip
        global_template = await client.get(f"/admin/template/edit/{seeded.global_template}")
        new_tenant = await client.post(
            "/admin/tenant/create", data={"key": "globex", "settings": "{}"}, headers=SAME_ORIGIN
        )
        disable_own = await client.post(
            f"/admin/tenant/edit/{MINE}", data={"key": MINE, "name": MINE, "settings": "{}"},
            headers=SAME_ORIGIN,
        )  # fmt: skip
    assert story.status_code == 404 and own_story.status_code == 200
    assert f"u-{MARK[MINE]} ({MINE})" in own_story.text
    assert dead.status_code == replay.status_code == 403
    assert preview["their template"].status_code == preview["their events"].status_code == 404
    assert preview["mine"].status_code == 200 and preview["mine"].json()["used"]["tenant"] == MINE
    mine = preview["mine"].json()
    assert "acme's own" in mine["used"]["description"] and MARK[THEIRS] not in str(mine)
    assert global_edit.status_code == global_template.status_code == 403
    assert new_tenant.status_code == 403
    assert disable_own.status_code == 400 and "global admin" in disable_own.text


async def test_a_global_admin_sees_both_and_a_configured_bound_one_does_not(
    database_url: str, sessions: Sessions
) -> None:
    await seed_two_tenants(sessions)
    bound = {"hash": hash_password(ADMIN_PASSWORD), "tenants": [MINE]}
    app = admin_app(database_url, "memory://admin-isolation", admin_users={"cfg": bound})
    async with running(app) as client:
        assert (await login(client, "cfg")).status_code == 302
        configured = (await client.get("/admin/delivery/list")).text
    async with running(admin_app(database_url, "memory://admin-isolation")) as client:
        assert (await login(client)).status_code == 302
        everything = (await client.get("/admin/delivery/list")).text
    assert MARK[MINE] in configured and MARK[THEIRS] not in configured
    assert MARK[MINE] in everything and MARK[THEIRS] in everything
