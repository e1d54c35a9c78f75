"""A channel registered at run time is known to every place that asks what a channel allows
(its digests, whether it interrupts): they all read the registry when they ask, so no second
list can drift from it (libs/common/delivery/channels.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace
from typing import cast

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import ChannelPreference, Delivery, DeliveryStatus, DigestSchedule
from libs.common.delivery import channels
from libs.common.schemas.envelope import Priority
from libs.common.tenancy.tenant_settings import TenantSettings
from services.ingest.admin.catalog_views import (
    ChannelFilter,
    ChannelPreferenceAdmin,
    DigestScheduleAdmin,
    check_channels,
)
from services.ingest.admin.templates_views import TemplateAdmin
from services.ingest.app import create_app
from services.ingest.digest_api.service import check_digest_channel
from services.ingest.errors import ApiError
from services.ingest.user_api.preference_rules import Module, build_view, check_change
from services.ingest.user_api.schemas import Mode, PreferenceChange
from services.processor.catalog import TypeInfo
from services.processor.channels import Claim, Terms, plan_person
from services.processor.directory import Entry
from tests.apps import ingest_settings, running, user_token
from tests.integration.services.sender.digest_support import (
    add_schedule,
    add_waiting,
    count,
    scheduler,
    utc,
)

Sessions = async_sessionmaker[AsyncSession]
PIGEON = "tests.integration.services.channels.pigeon_plugin:CHANNEL"  # digests, intrusive
# a lamp on the desk: lights up at once, never batched, interrupts nobody
BEACON = channels.ChannelSpec(
    "beacon",
    "tests.integration.services.channels.pigeon_plugin:build",
    digests=False,
    intrusive=False,
)
START = utc(2026, 11, 26, 6)


@pytest.fixture(autouse=True)
def plugins() -> Iterator[None]:
    """Registered after every module above was imported: what a plugin loaded late does."""
    channels.configure([PIGEON, f"{__name__}:BEACON"])
    yield
    channels.configure()  # the built-ins again, for the tests that follow


def test_the_registry_says_it() -> None:
    assert channels.digest_refusal("pigeon") is None
    assert "beacon channel has no digest" in (channels.digest_refusal("beacon") or "")
    assert channels.registry().without_digest() == {"browser", "beacon"}


def test_tenant_defaults_and_the_digest_api_refuse_a_beacon_digest() -> None:
    TenantSettings(default_modes={"*": {"pigeon": "digest"}})
    with pytest.raises(ValueError, match="beacon channel has no digest"):
        TenantSettings(default_modes={"*": {"beacon": "digest"}})
    check_digest_channel("pigeon")
    with pytest.raises(ApiError) as refused:
        check_digest_channel("beacon")
    assert refused.value.status == 422


def test_the_preference_api_knows_both_plugins() -> None:
    modules = {"tenders": Module(digestible=True, has_types=True)}
    check_change(0, PreferenceChange(source="tenders", channel="pigeon", mode=Mode.DIGEST), modules)
    check_change(0, PreferenceChange(source="tenders", channel="beacon", mode=Mode.OFF), modules)
    with pytest.raises(ApiError, match="beacon channel has no digest"):
        change = PreferenceChange(source="tenders", channel="beacon", mode=Mode.DIGEST)
        check_change(0, change, modules)
    view = build_view(modules, {})
    assert {"pigeon", "beacon"} <= set(view.channels)
    tenders = next(m for m in view.modules if m.source == "tenders")
    assert tenders.channels["pigeon"].can_digest and not tenders.channels["beacon"].can_digest


async def test_the_admin_accepts_and_refuses_as_the_registry_says() -> None:
    prefs, schedules = ChannelPreferenceAdmin(), DigestScheduleAdmin()
    pigeon = {"channel": "pigeon", "mode": "digest"}
    await prefs.on_model_change(pigeon, None, True, None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="beacon channel has no digest"):
        beacon = {"channel": "beacon", "mode": "digest"}
        await prefs.on_model_change(beacon, None, True, None)  # type: ignore[arg-type]
    check_channels(["pigeon", "beacon"], "default_channels")  # an event type's channels
    choices = TemplateAdmin.form_args["channel"]["choices"]()  # WTForms calls it per form
    listed = await ChannelFilter(ChannelPreference.channel).lookups(None, None, None)  # type: ignore[arg-type]
    assert ("pigeon", "pigeon") in listed and ("beacon", "beacon") in listed
    assert ("pigeon", "pigeon") in choices and ("beacon", "beacon") in choices
    with pytest.raises(ValueError, match="beacon channel has no digest"):
        await schedules.on_model_change({"channel": "beacon"}, None, True, None)  # type: ignore[arg-type]


def test_the_processor_plans_low_and_digest_by_the_registry() -> None:
    etype = TypeInfo("tenders.bid", False, True, ("pigeon", "beacon"), "en", False, True)
    prefs = {("*", "beacon"): "digest"}  # stored before the API refused it
    terms = Terms("tenders", etype, Priority.LOW, prefs, available=frozenset({"pigeon", "beacon"}))
    roof = cast(Entry, SimpleNamespace(attributes={"loft": "roof-3"}))  # the pigeon's address
    got = {p.channel: p for p in plan_person([Claim("u-1", "direct:assignee")], terms, roof)}
    assert got["pigeon"].status is DeliveryStatus.SKIPPED  # intrusive: low only when instant
    assert "inbox only" in got["pigeon"].reason
    assert got["beacon"].status is DeliveryStatus.PENDING  # interrupts nobody, never waits
    assert "beacon has no digest" in got["beacon"].reason


async def test_digests_release_a_waiting_beacon_item_and_collect_a_pigeon_one(
    sessions: Sessions,
) -> None:
    await add_schedule(sessions, "u-1", window_start=START, channel="pigeon")
    beacon = await add_waiting(sessions, "u-1", START + timedelta(hours=1), channel="beacon")
    pigeon = await add_waiting(sessions, "u-1", START + timedelta(hours=1), channel="pigeon")
    result = await scheduler(sessions).tick(START + timedelta(minutes=90))  # before the run
    assert result.provisioned == 0 and await count(sessions, DigestSchedule) == 1  # no beacon one
    async with sessions() as s:
        rows = {d.channel: d for d in [await s.get(Delivery, i) for i in (beacon, pigeon)] if d}
    assert rows["beacon"].status == "PENDING" and "beacon has no digest" in (
        rows["beacon"].reason or ""
    )
    assert rows["pigeon"].status == "DIGEST"


async def test_the_user_api_takes_a_late_plugin_over_http(database_url: str) -> None:
    """The app was built after the registry, but its routes and checks ask the registry."""
    app = create_app(ingest_settings(database_url, "memory://plugins"), consume=False)
    me = {"Authorization": f"Bearer {user_token('u-1', 'default')}"}
    async with running(app) as http:
        assert (await http.get("/v1/digest/pigeon", headers=me)).status_code == 200
        refused = await http.get("/v1/digest/beacon", headers=me)
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "no_digest"
        assert (await http.get("/v1/digest/owl", headers=me)).status_code == 422
        sub = {"name": "lofts", "source": "tenders", "entity_type": "tender", "filter": []}
        made = await http.post("/v1/subscriptions", json={**sub, "channels": ["pigeon", "beacon"]},
                               headers=me)  # fmt: skip
        assert made.status_code == 201, made.text
        assert made.json()["channels"] == ["pigeon", "beacon"]
        owl = await http.post("/v1/subscriptions", json={**sub, "channels": ["owl"]}, headers=me)
        assert owl.status_code == 422 and "owl" in owl.text
        prefs = await http.get("/v1/preferences", headers=me)
        assert {"pigeon", "beacon"} <= set(prefs.json()["channels"])
