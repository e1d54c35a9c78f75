"""What every Herald admin view shares: the request-time context and small formatters."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, ClassVar

from markupsafe import Markup, escape
from sqladmin import ModelView
from sqladmin.authentication import get_current_user_id
from sqladmin.flash import flash
from starlette.requests import Request
from starlette.responses import RedirectResponse

from services.ingest.admin.context import AdminContext

MAX_PKS_PER_ACTION = 100  # one click; larger batches go through `herald` commands
MAX_RAW_BYTES_SHOWN = 64 * 1024  # a 1 MiB rejected message would make the page unusable


class HeraldView(ModelView):
    """Each mounted admin subclasses its views with its own ``ctx`` (see ``mount_admin``)."""

    ctx: ClassVar[AdminContext]
    page_size = 25
    page_size_options: ClassVar[list[int]] = [25, 50, 100]


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
