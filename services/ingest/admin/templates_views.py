"""Templates: edited with a live preview, validated (syntax + a sandboxed render against a
sample event) before every insert and update — a broken template is never saved."""

from __future__ import annotations

from typing import Any, ClassVar

from sqladmin import expose
from sqlalchemy.ext.asyncio import AsyncSession
from starlette import status
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from wtforms import SelectField, TextAreaField  # type: ignore[import-untyped]

from libs.common.db.models import Template
from libs.common.delivery.channels import registry
from libs.common.templating.templates import TemplateRenderError
from libs.common.tenancy.tenants import DEFAULT_TENANT
from services.ingest.admin.base import HeraldView, ScopedValuesFilter
from services.ingest.admin.preview import DEFAULT_KEY, DIGEST_KEY, check_off_loop, sample_for
from services.ingest.admin.resolution import (
    event_type_row,
    resolve_template,
    scope_label,
    tenant_field,
    twin_of,
)
from services.ingest.admin.scope import check_writable, scope_of


def template_channels() -> list[tuple[str, str]]:
    """The inbox and every registered channel, asked of the registry each time a form is built
    (WTForms calls it), so a channel registered late can have templates too."""
    return [(c, c) for c in ("inbox", *registry().names)]


MAX_TEMPLATE_CHARS = 100_000  # a template is a page of text, not a payload


class TemplateRefused(ValueError):
    """Shown above the form: why the template was not saved."""


class TemplateAdmin(HeraldView, model=Template):
    name, name_plural, icon = "Template", "Templates", "fa-solid fa-file-lines"
    category = "Configuration"
    column_list: ClassVar[list[Any]] = [
        Template.id, Template.tenant, Template.event_type, Template.channel, Template.locale,
        Template.subject, Template.version, Template.updated_at,
    ]  # fmt: skip
    column_searchable_list: ClassVar[list[Any]] = [Template.event_type, Template.subject]
    column_sortable_list: ClassVar[list[Any]] = [Template.event_type, Template.channel]
    column_filters: ClassVar[list[Any]] = [
        ScopedValuesFilter(Template.channel),
        ScopedValuesFilter(Template.locale),
    ]
    form_columns: ClassVar[list[Any]] = [
        Template.tenant, Template.event_type, Template.channel, Template.locale,
        Template.subject, Template.body, Template.body_html,
    ]  # fmt: skip
    form_overrides: ClassVar[dict[str, Any]] = {
        "channel": SelectField,
        "subject": TextAreaField,
        "body": TextAreaField,
        "body_html": TextAreaField,
    }
    form_args: ClassVar[dict[str, dict[str, Any]]] = {
        "channel": {"choices": template_channels},
        "event_type": {
            "description": f'an event type key, "{DEFAULT_KEY}" for the channel default, '
            f'"{DIGEST_KEY}" for digests'
        },
        "body_html": {"description": "optional (e-mail): autoescaped HTML"},
        "tenant": {"description": "empty: every tenant; a tenant's key: its own version"},
    }
    form_widget_args: ClassVar[dict[str, dict[str, Any]]] = {
        "subject": {"rows": 2},
        "body": {"rows": 10, "spellcheck": "false"},
        "body_html": {"rows": 8, "spellcheck": "false"},
    }
    edit_template = "herald_admin/template_edit.html"
    create_template = "herald_admin/template_create.html"

    async def insert_model(self, request: Request, data: dict[str, Any]) -> Any:
        check_writable(request, data.get("tenant"))  # before sampling the tenant's events
        await self._refuse_broken(data, None)
        return await super().insert_model(request, data)

    async def update_model(self, request: Request, pk: str, data: dict[str, Any]) -> Any:
        check_writable(request, data.get("tenant"))
        await self._refuse_broken(data, pk)
        return await super().update_model(request, pk, data)

    async def on_model_change(
        self, data: dict[str, Any], model: Any, is_created: bool, request: Request
    ) -> None:
        data["body_html"] = data.get("body_html") or None
        data["subject"] = data.get("subject") or ""
        if not is_created:
            data["version"] = (model.version or 0) + 1

    async def _refuse_broken(self, data: dict[str, Any], pk: str | None) -> None:
        key = str(data.get("event_type") or "").strip()
        data["event_type"] = key
        sources = [str(data.get(f) or "") for f in ("subject", "body", "body_html")]
        if any(len(s) > MAX_TEMPLATE_CHARS for s in sources):
            raise TemplateRefused(f"Not saved: a field exceeds {MAX_TEMPLATE_CHARS} characters")
        if not sources[1].strip():
            raise TemplateRefused("Not saved: the body is empty")
        async with self.ctx.sessions()() as session:
            data["tenant"] = tenant = await _tenant(session, data.get("tenant"))
            if key not in (DEFAULT_KEY, DIGEST_KEY) and not await event_type_row(
                session, tenant, key
            ):
                raise TemplateRefused(f"Not saved: no event type {key!r} (create it first)")
            await _refuse_twin(session, data, pk)
            locale = str(data.get("locale") or "ru")
            sample = await sample_for(session, key, locale, [tenant] if tenant else None)
        try:
            await check_off_loop(sources[0], sources[1], sources[2] or None, sample.context)
        except TemplateRenderError as exc:
            raise TemplateRefused(f"Not saved: {exc}") from exc

    @expose("/preview", methods=["POST"])
    async def preview(self, request: Request) -> Response:
        form = await request.form()
        names = ("event_type", "locale", "subject", "body", "channel", "tenant", "for_tenant")
        fields = {f: str(form.get(f) or "") for f in names}
        html = str(form.get("body_html") or "") or None
        key = fields["event_type"].strip() or DEFAULT_KEY
        tenant = fields["tenant"].strip() or None
        # which row an event of this tenant would use now (saved rows, not this draft)
        for_tenant = fields["for_tenant"].strip() or tenant or _first_tenant(request)
        scope = scope_of(request)
        if scope is not None and not {tenant or for_tenant, for_tenant} <= scope:
            raise HTTPException(status.HTTP_404_NOT_FOUND)  # another tenant's: not here
        async with self.ctx.sessions()() as session:
            samples = [tenant] if tenant else (None if scope is None else sorted(scope))
            sample = await sample_for(session, key, fields["locale"] or "ru", samples)
            used = await resolve_template(
                session, for_tenant, key, fields["channel"], fields["locale"] or None
            )
        try:
            out = await check_off_loop(fields["subject"], fields["body"], html, sample.context)
        except TemplateRenderError as exc:
            return JSONResponse(
                {
                    "ok": False,
                    "error": str(exc),
                    "sample": sample.description,
                    "used": used.as_json(),
                }
            )
        return JSONResponse(
            {
                "ok": True,
                "subject": out.subject,
                "body": out.body,
                "body_html": out.body_html,
                "sample": sample.description,
                "used": used.as_json(),
            }
        )


async def _tenant(session: AsyncSession, value: Any) -> str | None:
    try:
        return await tenant_field(session, value)
    except ValueError as exc:
        raise TemplateRefused(f"Not saved: {exc}") from exc


async def _refuse_twin(session: AsyncSession, data: dict[str, Any], pk: str | None) -> None:
    """One template per (tenant or every tenant, event type, channel, locale)."""
    key = {f: data.get(f) for f in ("event_type", "channel", "locale")}
    twin = await twin_of(session, Template, data.get("tenant"), pk, **key)
    if twin is not None:
        where = scope_label(data.get("tenant"))
        raise TemplateRefused(f"Not saved: template #{twin} is already the one {where} here")


def _first_tenant(request: Request) -> str:
    """The tenant a preview checks by default: ``default``, or a bound admin's first."""
    scope = scope_of(request)
    return DEFAULT_TENANT if scope is None else min(scope, default=DEFAULT_TENANT)
