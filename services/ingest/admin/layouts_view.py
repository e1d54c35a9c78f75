"""E-mail layouts (DESIGN §15): the global one and each tenant's own — header, footer,
colours, the sender's name. Checked before saving; the processor wraps e-mails in the most
specific one within its catalog TTL, the sender names the sender within 5 s."""

from __future__ import annotations

from typing import Any, ClassVar

from starlette.requests import Request
from wtforms import TextAreaField  # type: ignore[import-untyped]

from libs.common.db.models import EmailLayout
from libs.common.templating.email_layout import check_layout
from services.ingest.admin.base import HeraldView, pre_text
from services.ingest.admin.resolution import scope_label, tenant_field, twin_of


class EmailLayoutAdmin(HeraldView, model=EmailLayout):
    name, name_plural, icon = "E-mail layout", "E-mail layouts", "fa-solid fa-envelope-open-text"
    category = "Configuration"
    column_list: ClassVar[list[Any]] = [
        EmailLayout.id, EmailLayout.tenant, EmailLayout.sender_name, EmailLayout.accent_color,
        EmailLayout.updated_at,
    ]  # fmt: skip
    column_formatters_detail: ClassVar[dict[Any, Any]] = {
        EmailLayout.header_html: lambda m, a: pre_text(m.header_html),
        EmailLayout.footer_html: lambda m, a: pre_text(m.footer_html),
    }
    form_excluded_columns: ClassVar[list[Any]] = [EmailLayout.updated_at]
    form_overrides: ClassVar[dict[str, Any]] = {
        "header_html": TextAreaField,
        "footer_html": TextAreaField,
        "header_text": TextAreaField,
        "footer_text": TextAreaField,
    }
    form_args: ClassVar[dict[str, dict[str, Any]]] = {
        "tenant": {"description": "empty: the layout of every tenant without its own"},
        "sender_name": {"description": 'the From name, e.g. "ACME notifications"'},
        "header_html": {"description": "HTML above each e-mail (a logo, a title)"},
        "footer_html": {"description": "HTML below each e-mail"},
        "header_text": {"description": "the same for the plain-text part"},
        "accent_color": {"description": "#RRGGBB"},
    }

    async def on_model_change(
        self, data: dict[str, Any], model: Any, is_created: bool, request: Request
    ) -> None:
        for field in ("sender_name", "header_html", "footer_html", "header_text", "footer_text"):
            data[field] = data.get(field) or ""
        check_layout(data)
        async with self.ctx.sessions()() as session:
            data["tenant"] = tenant = await tenant_field(session, data.get("tenant"))
            twin = await twin_of(session, EmailLayout, tenant, model.id)
        if twin is not None:
            raise ValueError(f"layout #{twin} is already the one {scope_label(tenant)}")
