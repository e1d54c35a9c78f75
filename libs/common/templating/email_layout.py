"""A tenant's e-mail layout (DESIGN §15): header, footer, colours and the sender's name.

The processor (and the digest builder) wrap each e-mail's rendered text in it, so a delivery
stores exactly what was sent; the sender puts ``sender_name`` in the From header. A tenant's
row beats the global one (``libs/common/catalog/overrides.py``); without either, e-mails go out as
their templates render them. The header and footer are the operator's own HTML, shown as is.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.catalog.overrides import Scope
from libs.common.db.models import EmailLayout
from libs.common.db.outage import is_transient
from libs.common.templating.templates import Rendered

log = logging.getLogger("herald.email_layout")

COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
MAX_SENDER_NAME_CHARS = 128
MAX_PART_CHARS = 20_000  # a header or footer is a logo and a few lines, not a page
LAYOUTS_TTL_S = 5.0  # the sender's copy: an edit reaches the From header within this time
COLORS = ("accent_color", "background_color", "text_color")
PARTS = ("header_html", "footer_html", "header_text", "footer_text")

_PAGE = (
    '<div style="background:{bg};color:{fg};font-family:Arial,Helvetica,sans-serif;'
    'padding:16px">{header}<div>{body}</div>{footer}</div>'
)
_HEADER = '<div style="border-bottom:3px solid {accent};margin-bottom:12px">{html}</div>'
_FOOTER = (
    '<div style="border-top:1px solid {accent};margin-top:16px;padding-top:8px;'
    'font-size:12px">{html}</div>'
)


class LayoutError(ValueError):
    """A layout the admin refuses to save; the message names the field."""


@dataclass(frozen=True)
class Layout:
    id: int
    tenant: Scope
    sender_name: str
    header_html: str
    footer_html: str
    header_text: str
    footer_text: str
    accent_color: str
    background_color: str
    text_color: str

    @classmethod
    def of(cls, row: EmailLayout) -> Layout:
        return cls(
            row.id, row.tenant, row.sender_name, row.header_html, row.footer_html,
            row.header_text, row.footer_text, row.accent_color, row.background_color,
            row.text_color,
        )  # fmt: skip

    def apply(self, rendered: Rendered) -> Rendered:
        """The e-mail in this layout: text between the text header and footer, HTML (or the
        text as HTML) inside the coloured frame with the HTML header and footer."""
        parts = (self.header_text.strip(), rendered.body.rstrip(), self.footer_text.strip())
        text = "\n\n".join(p for p in parts if p) + "\n"
        inner = rendered.body_html
        if inner is None:
            inner = "<p>" + html.escape(rendered.body.strip()).replace("\n", "<br>\n") + "</p>"
        accent = self.accent_color
        header = _HEADER.format(accent=accent, html=self.header_html) if self.header_html else ""
        footer = _FOOTER.format(accent=accent, html=self.footer_html) if self.footer_html else ""
        page = _PAGE.format(
            bg=self.background_color, fg=self.text_color, header=header, body=inner, footer=footer
        )
        return Rendered(subject=rendered.subject, body=text, body_html=page)


def check_layout(data: dict[str, Any]) -> None:
    """Raise LayoutError naming the first bad field."""
    for field in COLORS:
        if not COLOR.match(str(data.get(field) or "")):
            raise LayoutError(f"{field}: a colour as #RRGGBB, e.g. #1f6feb")
    name = str(data.get("sender_name") or "")
    if len(name) > MAX_SENDER_NAME_CHARS or not name.isprintable():
        raise LayoutError(f"sender_name: at most {MAX_SENDER_NAME_CHARS} printable characters")
    for field in PARTS:
        if len(str(data.get(field) or "")) > MAX_PART_CHARS:
            raise LayoutError(f"{field}: at most {MAX_PART_CHARS} characters")


async def load_layouts(session: AsyncSession) -> dict[Scope, Layout]:
    """Every layout by scope (a tenant, or None for the global one)."""
    return {row.tenant: Layout.of(row) for row in await session.scalars(select(EmailLayout))}


def layout_for(layouts: dict[Scope, Layout], tenant: str) -> Layout | None:
    return layouts.get(tenant) or layouts.get(None)


class LayoutBook:
    """The sender's copy of the layouts, read whole at most every ``ttl_s``."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], ttl_s: float = LAYOUTS_TTL_S
    ) -> None:
        self._sessions, self._ttl_s = sessions, ttl_s
        self._layouts: dict[Scope, Layout] = {}
        self._loaded_at: float | None = None
        self._lock = asyncio.Lock()

    async def get(self, tenant: str) -> Layout | None:
        if self._stale():
            async with self._lock:  # concurrent sends share one reload
                if self._stale():
                    await self._reload()
        return layout_for(self._layouts, tenant)

    def _stale(self) -> bool:
        return self._loaded_at is None or time.monotonic() - self._loaded_at >= self._ttl_s

    async def _reload(self) -> None:
        try:
            async with self._sessions() as session:
                self._layouts = await load_layouts(session)
        except Exception as exc:  # a sender name is not worth failing a send: keep the last
            if not is_transient(exc):
                raise
            log.warning("e-mail layouts unreadable, keeping the last copy: %r", exc)
        self._loaded_at = time.monotonic()

    async def sender_name(self, tenant: str) -> str | None:
        layout = await self.get(tenant)
        return layout.sender_name if layout is not None and layout.sender_name else None
