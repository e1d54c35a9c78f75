"""What every Herald admin view shares: the request-time context and small formatters."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

from markupsafe import Markup, escape
from sqladmin import ModelView
from sqladmin.authentication import get_current_user_id
from sqladmin.filters import AllUniqueStringValuesFilter, get_column_obj
from sqladmin.flash import flash
from sqlalchemy import Select, select
from starlette.requests import Request
from starlette.responses import RedirectResponse

from services.ingest.admin.context import AdminContext
from services.ingest.admin.scope import check_writable, scope_of, visible

MAX_PKS_PER_ACTION = 100  # one click; larger batches go through `herald` commands
MAX_RAW_BYTES_SHOWN = 64 * 1024  # a 1 MiB rejected message would make the page unusable


class HeraldView(ModelView):
    """Each mounted admin subclasses its views with its own ``ctx`` (see ``mount_admin``).

    Every row query is narrowed to the admin's tenants (``scope.py``): lists, counts, exports
    and the details, edit and delete pages; a save may only write the admin's tenants."""

    ctx: ClassVar[AdminContext]
    page_size = 25
    page_size_options: ClassVar[list[int]] = [25, 50, 100]
    tenant_field: ClassVar[str | None] = "tenant"  # the form field naming a row's tenant

    def _scoped(self, request: Request, stmt: Select[Any]) -> Select[Any]:
        clause = visible(self.model, scope_of(request))
        return stmt if clause is None else stmt.where(clause)

    def list_query(self, request: Request) -> Select[Any]:  # lists and exports
        return self._scoped(request, super().list_query(request))

    def count_query(self, request: Request) -> Select[Any]:
        return self._scoped(request, super().count_query(request))

    def details_query(self, request: Request) -> Select[Any]:  # details, edit and delete checks
        return self._scoped(request, super().details_query(request))

    def form_edit_query(self, request: Request) -> Select[Any]:
        return self._scoped(request, super().form_edit_query(request))

    async def check_can_view_details(self, request: Request, model: Any) -> bool:
        return model is not None and await super().check_can_view_details(request, model)

    async def check_can_edit(self, request: Request, model: Any) -> bool:
        return model is not None and await super().check_can_edit(request, model)

    async def check_can_delete(self, request: Request, model: Any) -> bool:
        return model is not None and await super().check_can_delete(request, model)

    async def insert_model(self, request: Request, data: dict[str, Any]) -> Any:
        if self.tenant_field:
            check_writable(request, data.get(self.tenant_field))
        return await super().insert_model(request, data)

    async def update_model(self, request: Request, pk: str, data: dict[str, Any]) -> Any:
        if self.tenant_field:
            check_writable(request, data.get(self.tenant_field))
        return await super().update_model(request, pk, data)

    async def in_scope(self, request: Request, pk: object) -> bool:
        """The row exists and this admin sees it (actions check each selected row)."""
        stmt = select(self.pk_columns[0]).where(self.pk_columns[0] == pk)
        async with self.ctx.sessions()() as session:
            return await session.scalar(self._scoped(request, stmt)) is not None


class ScopedValuesFilter(AllUniqueStringValuesFilter):
    """The column's values among the rows this admin sees (not every tenant's)."""

    async def lookups(
        self, request: Request, model: Any, run_query: Callable[[Select[Any]], Any]
    ) -> list[tuple[str, str]]:
        clause = visible(model, scope_of(request))
        if clause is None:
            return list(await super().lookups(request, model, run_query))
        column = get_column_obj(self.column, model)
        rows = await run_query(select(column).where(clause).distinct())
        return [("__all", "All")] + [(row[0], row[0]) for row in rows]


def admin_name(request: Request) -> str:
    return str(get_current_user_id(request) or "?")


def back_to(request: Request, fallback: str, message: str, ok: bool) -> RedirectResponse:
    """Flash the outcome of an action and return to the page it was started from."""
    flash(
        request, message, category="success" if ok else "danger", title="Done" if ok else "Refused"
    )
    return RedirectResponse(request.headers.get("referer") or fallback, status_code=302)


def pre_json(value: Any) -> Markup:
    if value is None:
        return Markup("")
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)
    return Markup('<pre class="herald-pre">{}</pre>').format(text)


def pre_bytes(value: bytes | None) -> Markup:
    if value is None:
        return Markup("")
    shown = value[:MAX_RAW_BYTES_SHOWN].decode("utf-8", errors="replace")
    more = len(value) - MAX_RAW_BYTES_SHOWN
    suffix = f"\n… {more} more bytes" if more > 0 else ""
    return Markup('<pre class="herald-pre">{}</pre>').format(shown + suffix)


def pre_text(value: str | None) -> Markup:
    return Markup('<pre class="herald-pre">{}</pre>').format(value or "")


def ago(value: datetime | None) -> str:
    if value is None:
        return ""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def link(href: str, text: str) -> Markup:
    return Markup('<a href="{}">{}</a>').format(href, escape(text))


def action_pks(request: Request) -> list[str]:
    raw = request.query_params.get("pks", "")
    return [pk for pk in raw.split(",") if pk][:MAX_PKS_PER_ACTION]


def report_action(
    request: Request, view: HeraldView, what: str, done: list[Any], refused: list[str]
) -> RedirectResponse:
    fallback = str(request.url_for("admin:list", identity=view.identity))
    if refused:
        text = f"{what}: {len(done)} done; refused: " + "; ".join(refused[:5])
        return back_to(request, fallback, text, ok=False)
    return back_to(request, fallback, f"{what}: {len(done)} queued", ok=True)
