"""Template checks and previews: syntax, then a render in the sandbox against a sample event.

The sample is the latest stored event of the template's type (what production will really
feed it), or a synthetic one when none arrived yet. The context is built by the functions the
processor renders with (libs/common/templating/template_context.py), for a sample recipient.

A render may take up to its deadline (HERALD_TEMPLATE_RENDER_DEADLINE_S, CPU-bound): it runs in
a worker thread, never on the event loop, so one slow preview does not stall ingest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import Event, EventStatus
from libs.common.runtime.errors import ValidationFailed
from libs.common.schemas.envelope import EventEnvelope, validate_body
from libs.common.templating.template_context import (
    event_context,
    message_context,
    recipient_context,
)
from libs.common.templating.templates import (
    Rendered,
    TemplateRenderError,
    render_budget,
    render_string,
    validate_template,
)
from services.ingest.admin.resolution import event_type_row

DEFAULT_KEY = "*"
DIGEST_KEY = "herald.digest"


# Two previews or saves render at once at most: an operator's burst of clicks costs at most two
# cores for one deadline each, and never the event loop.
RENDER_THREADS = 2
_renderers = ThreadPoolExecutor(RENDER_THREADS, thread_name_prefix="template-check")

SAMPLE_RECIPIENT = recipient_context(
    "u-17", timezone="Europe/Moscow", roles=["designer"], company_id="c-1", manager_id="u-3"
)


@dataclass(frozen=True)
class Sample:
    context: dict[str, Any]
    description: str  # shown next to the preview: which event it was rendered against


def preview_context(event_id: str, env: EventEnvelope, locale: str) -> dict[str, Any]:
    return message_context(event_context(event_id, env), SAMPLE_RECIPIENT, locale)


def synthetic_body(source: str, type_: str) -> dict[str, Any]:
    occurred = datetime.now(UTC)
    return {
        "id": "sample-0001",
        "source": source,
        "type": type_,
        "tenant": "default",
        "project_id": "P-42",
        "entity": {
            "type": "tender",
            "id": "T-1001",
            "attributes": {
                "deadline": (occurred + timedelta(days=7)).date().isoformat(),
                "section": "basement",
                "responsible": ["u-17"],
            },
        },
        "actor": {"id": "u-7"},
        "recipients": {"assignee": ["u-17"]},
        "priority": "normal",
        "occurred_at": occurred.isoformat(),
        "payload": {"title": "Add fire-safety certificate"},
    }


def digest_context(locale: str) -> dict[str, Any]:
    """A two-item digest for previews of ``herald.digest`` templates."""
    items = [
        {"title": "Add fire-safety certificate", "entity": {"type": "tender", "id": "T-1001"}},
        {"title": "Approval overdue", "entity": {"type": "approval", "id": "A-7"}},
    ]
    return {
        "recipient": {"user_id": "u-17", "locale": locale, "attributes": {}},
        "digest": {"count": len(items), "window_start": "", "window_end": ""},
        "groups": [
            {"source": "tenders", "items": items[:1]},
            {"source": "approvals", "items": items[1:]},
        ],
        "items": items,
    }


async def _split_key(session: AsyncSession, key: str, tenant: str | None) -> tuple[str, str]:
    """'<source>.<type>' → (source, type), using the event type's own source when known."""
    et = await event_type_row(session, tenant, key)
    if et is not None and key.startswith(et.source + "."):
        return et.source, key[len(et.source) + 1 :]
    source, _, type_ = key.partition(".")
    return source, type_ or key


async def sample_for(
    session: AsyncSession, event_type: str, locale: str, tenants: Collection[str] | None = None
) -> Sample:
    """``tenants``: sample only their events (a tenant's template, a tenant-bound admin)."""
    if event_type == DIGEST_KEY:
        return Sample(digest_context(locale), "a sample two-item digest")
    stmt = select(Event).where(Event.status != EventStatus.REJECTED.value)
    if tenants is not None:
        stmt = stmt.where(Event.tenant.in_(list(tenants)))
    tenant = next(iter(tenants), None) if tenants is not None and len(tenants) == 1 else None
    if event_type != DEFAULT_KEY:
        source, type_ = await _split_key(session, event_type, tenant)
        stmt = stmt.where(Event.source == source, Event.type == type_)
    for latest in await session.scalars(stmt.order_by(Event.received_at.desc()).limit(1)):
        try:
            env = validate_body(latest.body or {})
        except ValidationFailed:
            break  # stored before a schema change: fall back to the synthetic sample
        return Sample(preview_context(latest.id, env, locale), f"the latest event {latest.id}")
    source, type_ = (
        await _split_key(session, event_type, tenant)
        if event_type != DEFAULT_KEY
        else ("tenders", "tender.requirement_added")
    )
    env = validate_body(synthetic_body(source, type_))
    return Sample(preview_context("sample-0001", env, locale), "a sample event")


async def check_off_loop(
    subject: str, body: str, body_html: str | None, context: dict[str, Any]
) -> Rendered:
    """``check`` in a worker thread: the event loop keeps serving while it renders."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_renderers, check, subject, body, body_html, context)


def check(subject: str, body: str, body_html: str | None, context: dict[str, Any]) -> Rendered:
    """Raise TemplateRenderError naming the field and the problem (a missed deadline too: such
    a template is never saved); else the rendering."""
    given = ("subject", subject, False), ("body", body, False), ("body_html", body_html, True)
    fields = [(name, source, html) for name, source, html in given if source]
    for name, source, html in fields:  # syntax first, outside the render's deadline
        _naming(name, validate_template, source, html=html)
    with render_budget():  # one deadline for the whole template, as the processor gives it
        out = {n: _naming(n, render_string, s, context, html=h) for n, s, h in fields}
    return Rendered(
        subject=(out.get("subject") or "").strip(),
        body=out.get("body") or "",
        body_html=out.get("body_html"),
    )


def _naming(field: str, func: Callable[..., str | None], *args: Any, **kwargs: Any) -> str | None:
    try:
        return func(*args, **kwargs)
    except TemplateRenderError as exc:
        raise TemplateRenderError(f"{field}: {_hint(exc)}") from exc


def _hint(exc: TemplateRenderError) -> str:
    text = str(exc)
    if "UndefinedError" in text:
        return f"{text} — the sample event has no such value; use `| default('…')` if optional"
    return text
