"""Views for what operators configure: event types, people, subscriptions, channel
preferences and digest schedules. Every save is validated with the same rules the user API
applies, so the admin can never store something the pipeline would choke on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from sqladmin.filters import BooleanFilter, StaticValuesFilter
from starlette.requests import Request

from libs.common.db.models import (
    ChannelPreference,
    DigestSchedule,
    EventType,
    Recipient,
    Subscription,
    utcnow,
)
from libs.common.delivery.channels import digest_refusal, provider_refusal, registry
from libs.common.delivery.digest_schedule import ScheduleError, next_run_after, validate
from libs.common.delivery.escalation import ChainError, parse_chain
from libs.common.subscriptions.filters import FilterError, parse_filter
from services.ingest.admin.base import HeraldView, ScopedValuesFilter, link, pre_json
from services.ingest.admin.resolution import scope_label, tenant_field, twin_of

MODES = [("instant", "instant"), ("digest", "digest"), ("off", "off")]


class ChannelFilter(StaticValuesFilter):
    """A list filter whose choices are the registered channels, read when the page asks."""

    def __init__(self, column: Any) -> None:
        super().__init__(column, [])

    async def lookups(
        self, request: Request, model: Any, run_query: Callable[..., Any]
    ) -> list[tuple[str, str]]:
        return [("__all", "All"), *((c, c) for c in registry().names)]


def check_channels(value: Any, field: str, available: frozenset[str] | None = None) -> None:
    """Known channels only; with ``available``, only channels that have a provider."""
    if not isinstance(value, list) or not all(isinstance(c, str) and c for c in value):
        raise ValueError(f'{field}: a JSON list of channel names, e.g. ["email", "browser"]')
    known = registry().names
    unknown = sorted(set(value) - set(known))
    if unknown:
        raise ValueError(f"{field}: unknown channel(s) {unknown}; known: {list(known)}")
    refused = [r for c in value if available is not None and (r := provider_refusal(c, available))]
    if refused:
        raise ValueError(f"{field}: {'; '.join(refused)} (configure it first: docs/sender.md)")


def story_link(model: Any, _attr: str, request: Request) -> Any:
    url = request.url_for("admin:view-story").include_query_params(
        user=model.user_id, tenant=model.tenant
    )
    return link(str(url), model.user_id)


class EventTypeAdmin(HeraldView, model=EventType):
    name, name_plural, icon = "Event type", "Event types", "fa-solid fa-tags"
    category = "Configuration"
    column_list: ClassVar[list[Any]] = [
        EventType.key, EventType.tenant, EventType.title, EventType.critical,
        EventType.digestible, EventType.default_channels, EventType.enabled,
    ]  # fmt: skip
    column_searchable_list: ClassVar[list[Any]] = [EventType.key, EventType.title]
    column_filters: ClassVar[list[Any]] = [
        ScopedValuesFilter(EventType.source),
        BooleanFilter(EventType.critical),
        BooleanFilter(EventType.enabled),
    ]
    column_sortable_list: ClassVar[list[Any]] = [EventType.key, EventType.source]
    form_args: ClassVar[dict[str, dict[str, Any]]] = {
        "key": {"description": "<source>.<type>, e.g. tenders.tender.requirement_added"},
        "critical": {"description": "critical events are never held for a digest"},
        "default_channels": {"description": 'JSON list, e.g. ["email", "browser"]'},
        "tenant": {"description": "empty: every tenant; a tenant's key: its own version"},
        "escalation": {
            "description": "a critical notification left unread goes out on each step's "
            'channel at its delay, e.g. [{"channel": "browser", "after_minutes": 0}, '
            '{"channel": "email", "after_minutes": 10}] (docs/processor.md)'
        },
    }

    async def on_model_change(
        self, data: dict[str, Any], model: Any, is_created: bool, request: Request
    ) -> None:
        key, source = data.get("key") or model.key, data.get("source") or ""
        async with self.ctx.sessions()() as session:
            data["tenant"] = tenant = await tenant_field(session, data.get("tenant"))
            twin = await twin_of(session, EventType, tenant, model.id, key=key)
        if twin is not None:
            raise ValueError(f"event type #{twin} is already {key} {scope_label(tenant)}")
        if not source or not str(key).startswith(f"{source}."):
            raise ValueError(f"key must be '<source>.<type>' and start with '{source}.'")
        available = self.ctx.available_channels()
        check_channels(data.get("default_channels"), "default_channels", available)
        try:
            chain = parse_chain(data.get("escalation"), available)
        except ChainError as exc:
            raise ValueError(str(exc)) from exc
        data["escalation"] = [step.as_json() for step in chain]
        if data.get("critical") and data.get("digestible"):
            raise ValueError("a critical event type cannot be digestible")


class RecipientAdmin(HeraldView, model=Recipient):
    name, name_plural, icon = "Recipient", "Recipients", "fa-solid fa-user"
    category = "People"
    form_include_pk = True
    column_list: ClassVar[list[Any]] = [
        Recipient.tenant, Recipient.user_id, Recipient.email, Recipient.telegram_chat_id,
        Recipient.locale, Recipient.roles, Recipient.company_id,
    ]  # fmt: skip
    column_searchable_list: ClassVar[list[Any]] = [Recipient.user_id, Recipient.email]
    column_filters: ClassVar[list[Any]] = [ScopedValuesFilter(Recipient.tenant)]
    column_formatters: ClassVar[dict[Any, Any]] = {Recipient.user_id: story_link}
    column_formatters_detail: ClassVar[dict[Any, Any]] = {
        Recipient.attributes: lambda m, a: pre_json(m.attributes)
    }
    form_excluded_columns: ClassVar[list[Any]] = [Recipient.updated_at]


class SubscriptionAdmin(HeraldView, model=Subscription):
    name, name_plural, icon = "Subscription", "Subscriptions", "fa-solid fa-filter"
    category = "People"
    column_list: ClassVar[list[Any]] = [
        Subscription.id, Subscription.tenant, Subscription.user_id, Subscription.name,
        Subscription.source, Subscription.entity_type, Subscription.channels, Subscription.enabled,
    ]  # fmt: skip
    column_searchable_list: ClassVar[list[Any]] = [Subscription.user_id, Subscription.name]
    column_filters: ClassVar[list[Any]] = [
        ScopedValuesFilter(Subscription.source),
        BooleanFilter(Subscription.enabled),
    ]
    column_formatters: ClassVar[dict[Any, Any]] = {Subscription.user_id: story_link}
    column_formatters_detail: ClassVar[dict[Any, Any]] = {
        Subscription.filter: lambda m, a: pre_json(m.filter)
    }
    form_excluded_columns: ClassVar[list[Any]] = [Subscription.created_at, Subscription.updated_at]
    form_args: ClassVar[dict[str, dict[str, Any]]] = {
        "filter": {
            "description": 'JSON list of conditions, e.g. [{"field": "section", "op": "eq", '
            '"value": "basement"}]'
        },
    }

    async def on_model_change(
        self, data: dict[str, Any], model: Any, is_created: bool, request: Request
    ) -> None:
        try:
            parse_filter(data.get("filter") if data.get("filter") is not None else [])
        except FilterError as exc:
            raise ValueError(f"filter: {exc}") from exc
        check_channels(data.get("channels"), "channels")


class ChannelPreferenceAdmin(HeraldView, model=ChannelPreference):
    name, name_plural, icon = "Channel preference", "Channel preferences", "fa-solid fa-sliders"
    category = "People"
    form_include_pk = True
    column_list: ClassVar[list[Any]] = [
        ChannelPreference.tenant, ChannelPreference.user_id, ChannelPreference.source,
        ChannelPreference.channel, ChannelPreference.mode,
    ]  # fmt: skip
    column_searchable_list: ClassVar[list[Any]] = [ChannelPreference.user_id]
    column_filters: ClassVar[list[Any]] = [
        ChannelFilter(ChannelPreference.channel),
        StaticValuesFilter(ChannelPreference.mode, MODES),
    ]
    column_formatters: ClassVar[dict[Any, Any]] = {ChannelPreference.user_id: story_link}
    form_args: ClassVar[dict[str, dict[str, Any]]] = {
        "source": {"description": 'a module ("tenders") or "*" for all modules'},
        "mode": {"description": "instant, digest or off"},
    }

    async def on_model_change(
        self, data: dict[str, Any], model: Any, is_created: bool, request: Request
    ) -> None:
        if data.get("mode") not in {m for m, _ in MODES}:
            raise ValueError("mode must be instant, digest or off")
        if data.get("channel") not in (known := registry().names):
            raise ValueError(f"channel must be one of {list(known)}")
        refusal = digest_refusal(str(data["channel"]))
        if data.get("mode") == "digest" and refusal:
            raise ValueError(refusal)


class DigestScheduleAdmin(HeraldView, model=DigestSchedule):
    name, name_plural, icon = "Digest schedule", "Digest schedules", "fa-solid fa-clock"
    category = "People"
    form_include_pk = True
    column_list: ClassVar[list[Any]] = [
        DigestSchedule.tenant, DigestSchedule.user_id, DigestSchedule.channel,
        DigestSchedule.days_of_week, DigestSchedule.time_of_day, DigestSchedule.timezone,
        DigestSchedule.enabled, DigestSchedule.next_run_at,
    ]  # fmt: skip
    column_searchable_list: ClassVar[list[Any]] = [DigestSchedule.user_id]
    column_formatters: ClassVar[dict[Any, Any]] = {DigestSchedule.user_id: story_link}
    # the schedule owns these: recomputed on every save so nothing collected is lost
    form_excluded_columns: ClassVar[list[Any]] = [
        DigestSchedule.window_start, DigestSchedule.next_run_at, DigestSchedule.updated_at,
    ]  # fmt: skip
    form_args: ClassVar[dict[str, dict[str, Any]]] = {
        "days_of_week": {"description": "JSON list, 0 = Monday … 6 = Sunday, e.g. [0, 2, 4]"},
        "time_of_day": {"description": "HH:MM in the schedule's time zone"},
    }

    async def on_model_change(
        self, data: dict[str, Any], model: Any, is_created: bool, request: Request
    ) -> None:
        refusal = digest_refusal(str(data.get("channel")))
        if refusal:
            raise ValueError(refusal)
        days, at, zone = (
            data.get("days_of_week") or [],
            data.get("time_of_day"),
            data.get("timezone"),
        )
        try:
            data["days_of_week"] = validate(days, str(at), str(zone))
            # the window keeps its start (nothing collected is lost); only the next run moves
            data["next_run_at"] = next_run_after(utcnow(), data["days_of_week"], str(at), str(zone))
        except (ScheduleError, TypeError) as exc:
            raise ValueError(f"schedule: {exc}") from exc
