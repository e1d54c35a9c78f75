"""Templates: edited with a live preview, validated (syntax + a sandboxed render against a
sample event) before every insert and update — a broken template is never saved."""

from __future__ import annotations

from typing import Any, ClassVar

from sqladmin import expose
from sqladmin.filters import AllUniqueStringValuesFilter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from wtforms import SelectField, TextAreaField  # type: ignore[import-untyped]

from libs.common.channels import registry
from libs.common.db.models import EventType, Template
from libs.common.templates import TemplateRenderError
from services.ingest.admin.base import HeraldView
from services.ingest.admin.preview import DEFAULT_KEY, DIGEST_KEY, check, sample_for

TEMPLATE_CHANNELS = ["inbox", *registry().names]
MAX_TEMPLATE_CHARS = 100_000  # a template is a page of text, not a payload


class TemplateRefused(ValueError):
    """Shown above the form: why the template was not saved."""


class TemplateAdmin(HeraldView, model=Template):
    name, name_plural, icon = "Template", "Templates", "fa-solid fa-file-lines"
    category = "Configuration"
    column_list: ClassVar[list[Any]] = [
        Template.id, Template.event_type, Template.channel, Template.locale,
        Template.subject, Template.version, Template.updated_at,
    ]  # fmt: skip
    column_searchable_list: ClassVar[list[Any]] = [Template.event_type, Template.subject]
    column_sortable_list: ClassVar[list[Any]] = [Template.event_type, Template.channel]
    column_filters: ClassVar[list[Any]] = [
        AllUniqueStringValuesFilter(Template.channel),
        AllUniqueStringValuesFilter(Template.locale),
    ]
    form_columns: ClassVar[list[Any]] = [
        Template.event_type, Template.channel, Template.locale,
        Template.subject, Template.body, Template.body_html,
    ]  # fmt: skip
    form_overrides: ClassVar[dict[str, Any]] = {
        "channel": SelectField,
        "subject": TextAreaField,
        "body": TextAreaField,
        "body_html": TextAreaField,
    }
    form_args: ClassVar[dict[str, dict[str, Any]]] = {
        "channel": {"choices": [(c, c) for c in TEMPLATE_CHANNELS]},
        "event_type": {
            "description": f'an event type key, "{DEFAULT_KEY}" for the channel default, '
            f'"{DIGEST_KEY}" for digests'
        },
        "body_html": {"description": "optional (e-mail): autoescaped HTML"},
    }
    form_widget_args: ClassVar[dict[str, dict[str, Any]]] = {
        "subject": {"rows": 2},
        "body": {"rows": 10, "spellcheck": "false"},
        "body_html": {"rows": 8, "spellcheck": "false"},
    }
    edit_template = "herald_admin/template_edit.html"
    create_template = "herald_admin/template_create.html"

    async def insert_model(self, request: Request, data: dict[str, Any]) -> Any:
        await self._refuse_broken(data)
        return await super().insert_model(request, data)

    async def update_model(self, request: Request, pk: str, data: dict[str, Any]) -> Any:
        await self._refuse_broken(data)
        return await super().update_model(request, pk, data)

    async def on_model_change(
        self, data: dict[str, Any], model: Any, is_created: bool, request: Request
    ) -> None:
        data["body_html"] = data.get("body_html") or None
        data["subject"] = data.get("subject") or ""
        if not is_created:
            data["version"] = (model.version or 0) + 1

    async def _refuse_broken(self, data: dict[str, Any]) -> None:
        key = str(data.get("event_type") or "").strip()
        data["event_type"] = key
        sources = [str(data.get(f) or "") for f in ("subject", "body", "body_html")]
        if any(len(s) > MAX_TEMPLATE_CHARS for s in sources):
            raise TemplateRefused(f"Not saved: a field exceeds {MAX_TEMPLATE_CHARS} characters")
        if not sources[1].strip():
            raise TemplateRefused("Not saved: the body is empty")
        async with self.ctx.sessions()() as session:
            if key not in (DEFAULT_KEY, DIGEST_KEY) and await session.get(EventType, key) is None:
                raise TemplateRefused(f"Not saved: no event type {key!r} (create it first)")
            sample = await sample_for(session, key, str(data.get("locale") or "ru"))
        try:
            check(sources[0], sources[1], sources[2] or None, sample.context)
        except TemplateRenderError as exc:
            raise TemplateRefused(f"Not saved: {exc}") from exc

    @expose("/preview", methods=["POST"])
    async def preview(self, request: Request) -> Response:
        form = await request.form()
        fields = {f: str(form.get(f) or "") for f in ("event_type", "locale", "subject", "body")}
        html = str(form.get("body_html") or "") or None
        async with self.ctx.sessions()() as session:
            sample = await sample_for(session, fields["event_type"].strip() or DEFAULT_KEY,
                                      fields["locale"] or "ru")  # fmt: skip
        try:
            out = check(fields["subject"], fields["body"], html, sample.context)
        except TemplateRenderError as exc:
            return JSONResponse({"ok": False, "error": str(exc), "sample": sample.description})
        return JSONResponse(
            {
                "ok": True,
                "subject": out.subject,
                "body": out.body,
                "body_html": out.body_html,
                "sample": sample.description,
            }
        )
