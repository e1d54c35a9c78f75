"""Deliveries by user, status and channel, with every attempt and error; retry action."""

from __future__ import annotations

from typing import Any, ClassVar

from sqladmin import action
from sqladmin.filters import StaticValuesFilter
from starlette.requests import Request
from starlette.responses import Response

from libs.common.bus.nudges import nudge_sender
from libs.common.db.engine import transaction
from libs.common.db.models import Delivery, DeliveryStatus
from services.ingest.admin.actions import ActionRefused, retry_delivery
from services.ingest.admin.base import (
    HeraldView,
    ScopedValuesFilter,
    action_pks,
    admin_name,
    pre_text,
    report_action,
)
from services.ingest.admin.catalog_views import story_link
from services.ingest.admin.events_views import AwareTimeFilter
from services.ingest.admin.trail import attempts_of

STATUSES = [(s.value, s.value) for s in DeliveryStatus]


class DeliveryAdmin(HeraldView, model=Delivery):
    name, name_plural, icon = "Delivery", "Deliveries", "fa-solid fa-paper-plane"
    category = "Activity"
    can_create = can_edit = can_delete = False
    column_list: ClassVar[list[Any]] = [
        Delivery.id, Delivery.created_at, Delivery.user_id, Delivery.channel, Delivery.status,
        Delivery.attempts, Delivery.reason, Delivery.last_error, Delivery.source,
    ]  # fmt: skip
    column_default_sort: ClassVar[Any] = (Delivery.id, True)
    column_searchable_list: ClassVar[list[Any]] = [Delivery.user_id]
    column_sortable_list: ClassVar[list[Any]] = [Delivery.id, Delivery.status, Delivery.channel]
    column_filters: ClassVar[list[Any]] = [
        StaticValuesFilter(Delivery.status, STATUSES),
        ScopedValuesFilter(Delivery.channel),
        ScopedValuesFilter(Delivery.source),
        AwareTimeFilter(Delivery.created_at, title="Created (UTC)"),
    ]
    column_formatters: ClassVar[dict[Any, Any]] = {
        Delivery.user_id: story_link,
        Delivery.last_error: lambda m, a: (m.last_error or "")[:120],
    }
    column_formatters_detail: ClassVar[dict[Any, Any]] = {
        Delivery.body: lambda m, a: pre_text(m.body),
        Delivery.body_html: lambda m, a: pre_text(m.body_html),
        Delivery.last_error: lambda m, a: pre_text(m.last_error),
    }
    details_template = "herald_admin/delivery_details.html"

    async def details_context(self, request: Request) -> dict[str, Any]:
        try:
            pk = int(request.path_params["pk"])
        except ValueError:
            return {"attempts": []}
        async with transaction(self.ctx.sessions()) as session:
            return {"attempts": (await attempts_of(session, [pk])).get(pk, [])}

    @action(
        "retry",
        label="Retry now",
        confirmation_message="Send the selected FAILED, DENIED or PENDING deliveries again now?",
    )
    async def retry(self, request: Request) -> Response:
        done: list[int] = []
        refused: list[str] = []
        for raw in action_pks(request):
            try:
                if not await self.in_scope(request, _as_id(raw)):  # another tenant's
                    raise ActionRefused(f"delivery {raw[:40]} not found")
                async with transaction(self.ctx.sessions()) as session:
                    await retry_delivery(session, _as_id(raw), admin_name(request))
                done.append(int(raw))
            except ActionRefused as exc:
                refused.append(str(exc))
        await nudge_sender(self.ctx.bus, done)  # a lost nudge: the sender's sweep finds them
        return report_action(request, self, "retry", done, refused)


def _as_id(raw: str) -> int:
    try:
        return int(raw)
    except ValueError as exc:
        raise ActionRefused(f"not a delivery id: {raw[:40]!r}") from exc
