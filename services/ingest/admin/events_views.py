"""Events (with raw body and processing trail) and rejected messages; reprocess action."""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqladmin import action
from sqladmin.filters import OperationColumnFilter, StaticValuesFilter
from sqlalchemy import Select, select
from starlette.requests import Request
from starlette.responses import Response

from libs.common.bus.nudges import nudge_processor
from libs.common.db.engine import transaction
from libs.common.db.models import Event, EventStatus
from libs.common.events.reprocess import CannotReprocess, reset_event
from libs.common.schemas.envelope import skipped_recipients
from services.ingest.admin.base import (
    HeraldView,
    ScopedValuesFilter,
    action_pks,
    admin_name,
    pre_bytes,
    pre_json,
    pre_text,
    report_action,
)
from services.ingest.admin.trail import event_trail

STATUSES = [(s.value, s.value) for s in EventStatus]


def skipped_reasons(body: dict[str, Any] | None) -> list[str]:
    """The recipient ids ingest and the processor left out of this event, each with why;
    derived from the stored body by the envelope's own rule, so it cannot drift."""
    return [str(s) for s in skipped_recipients(body)] if body else []


class AwareTimeFilter(OperationColumnFilter):
    """Times typed in the filter box are UTC (timestamptz columns need aware values)."""

    def _convert_value_for_column(
        self, value: str, column_obj: Any, operation: str = "equals"
    ) -> Any:
        converted = super()._convert_value_for_column(value, column_obj, operation)
        if isinstance(converted, dt.datetime) and converted.tzinfo is None:
            return converted.replace(tzinfo=dt.UTC)
        return converted


class EventAdmin(HeraldView, model=Event):
    name, name_plural, icon = "Event", "Events", "fa-solid fa-bolt"
    category = "Activity"
    can_create = can_edit = can_delete = False  # the record of what arrived is never rewritten
    column_list: ClassVar[list[Any]] = [
        Event.received_at, Event.status, Event.source, Event.type, Event.entity_type,
        Event.entity_id, Event.tenant, Event.attempts, Event.id,
    ]  # fmt: skip
    column_default_sort: ClassVar[Any] = (Event.received_at, True)
    column_searchable_list: ClassVar[list[Any]] = [Event.id, Event.entity_id, Event.source_event_id]
    column_sortable_list: ClassVar[list[Any]] = [Event.received_at, Event.status, Event.source]
    column_filters: ClassVar[list[Any]] = [
        StaticValuesFilter(Event.status, STATUSES),
        ScopedValuesFilter(Event.source),
        ScopedValuesFilter(Event.type),
        AwareTimeFilter(Event.received_at, title="Received (UTC, e.g. 2026-11-26T10:00)"),
    ]
    column_formatters_detail: ClassVar[dict[Any, Any]] = {
        Event.body: lambda m, a: pre_json(m.body),
        Event.headers: lambda m, a: pre_json(m.headers),
        Event.raw: lambda m, a: pre_bytes(m.raw),
        Event.error: lambda m, a: pre_text(m.error),
    }
    details_template = "herald_admin/event_details.html"

    async def details_context(self, request: Request) -> dict[str, Any]:
        pk = request.path_params["pk"]
        async with transaction(self.ctx.sessions()) as session:
            body = await session.scalar(select(Event.body).where(Event.id == pk))
            return {"trail": await event_trail(session, pk), "skipped": skipped_reasons(body)}

    @action(
        "reprocess",
        label="Reprocess",
        confirmation_message="Put the selected failed events back and process them again?",
    )
    async def reprocess(self, request: Request) -> Response:
        done, refused = [], []
        for pk in action_pks(request):
            if not await self.in_scope(request, pk):  # another tenant's: as if missing
                refused.append(f"no event {pk[:40]}")  # as reset_event says it
                continue
            try:
                async with transaction(self.ctx.sessions()) as session:
                    await reset_event(session, pk, by=f"admin {admin_name(request)!r}")
                done.append(pk)
            except CannotReprocess as exc:
                refused.append(str(exc))
        await nudge_processor(self.ctx.bus, done)  # one message; a lost one: the sweep
        return report_action(request, self, "reprocessing", done, refused)


class RejectedAdmin(HeraldView, model=Event):
    """Messages that failed validation: raw bytes, headers and the reason, nothing dropped.
    A bound admin sees those that name one of its tenants (``visible``: NULL is global-only)."""

    name, name_plural, icon = "Rejected message", "Rejected messages", "fa-solid fa-ban"
    category = "Activity"
    can_create = can_edit = can_delete = False
    column_list: ClassVar[list[Any]] = [
        Event.received_at, Event.tenant, Event.error, Event.source, Event.id,
    ]  # fmt: skip
    column_default_sort: ClassVar[Any] = (Event.received_at, True)
    column_searchable_list: ClassVar[list[Any]] = [Event.id, Event.error]
    column_details_list: ClassVar[list[Any]] = [
        Event.id, Event.tenant, Event.received_at, Event.error, Event.headers, Event.raw,
        Event.source, Event.type,
    ]  # fmt: skip
    column_formatters: ClassVar[dict[Any, Any]] = {Event.error: lambda m, a: (m.error or "")[:120]}
    column_formatters_detail: ClassVar[dict[Any, Any]] = EventAdmin.column_formatters_detail

    def list_query(self, request: Request) -> Select[Any]:
        return super().list_query(request).where(Event.status == EventStatus.REJECTED.value)

    def count_query(self, request: Request) -> Select[Any]:
        return super().count_query(request).where(Event.status == EventStatus.REJECTED.value)


RejectedAdmin.identity = "rejected-message"  # the metaclass names it after the model
