"""Rendering the inbox item and each channel's message (DESIGN §5 step 5).

Most templates do not mention the recipient, so their output depends only on the event, the
channel and the locale: ``EventRenderer`` renders those once per event instead of once per
person, and finds each (channel, locale)'s template once.
"""

from __future__ import annotations

from typing import Any

from libs.common.schemas.envelope import EventEnvelope
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
)
from services.processor.catalog import Snapshot, TemplateRow, TypeInfo
from services.processor.directory import Entry

EMAIL = "email"


class EventRenderer:
    """Renders one event's messages. A person-independent message is rendered once per event,
    channel and locale, however many people get it; its texts once per event and locale,
    however many channels use them (the inbox title and the browser title are usually the
    same text)."""

    def __init__(
        self, snapshot: Snapshot, etype: TypeInfo, event_id: str, env: EventEnvelope
    ) -> None:
        self._snapshot, self._etype, self._env = snapshot, etype, env
        self._layout = snapshot.layout(env.tenant)  # e-mail only (DESIGN §15)
        self._base = event_context(event_id, env)
        self._texts: dict[tuple[str, bool, str], str] = {}
        # (channel, locale) → the finished message, or the template when it reads the person
        self._done: dict[tuple[str, str], Rendered | TemplateRow] = {}

    def render(self, channel: str, user_id: str, person: Entry | None) -> Rendered:
        locale = (person.locale if person else None) or self._etype.default_locale
        key = (channel, locale)
        found = self._done.get(key)
        if found is None:
            found = self._done[key] = self._first(channel, locale, user_id, person)
        if isinstance(found, TemplateRow):  # reads the recipient: rendered per person
            who = f"{locale}/{user_id}"
            return self._dress(channel, self._render(found, locale, who, user_id, person))
        return found

    def _first(
        self, channel: str, locale: str, user_id: str, person: Entry | None
    ) -> Rendered | TemplateRow:
        """The (channel, locale)'s message when it is the same for everyone, else its
        template."""
        template = self._snapshot.template(self._env.tenant, self._etype, channel, locale)
        if template is None:
            return self._dress(channel, self._plain())
        if template.personal:
            return template
        return self._dress(channel, self._render(template, locale, locale, user_id, person))

    def _dress(self, channel: str, rendered: Rendered) -> Rendered:
        """An e-mail in the tenant's layout (header, footer, colours), else as rendered."""
        if channel != EMAIL or self._layout is None:
            return rendered
        return self._layout.apply(rendered)

    def _render(
        self, template: TemplateRow, locale: str, who: str, user_id: str, person: Entry | None
    ) -> Rendered:
        view = person.template_view() if person else recipient_context(user_id)
        ctx = message_context(self._base, view, locale)
        # texts are shared between channels: keyed by the person only if the template reads them
        try:
            with render_budget():  # one deadline for the template's subject, body and HTML
                return Rendered(
                    subject=self._text(template.subject, False, who, ctx).strip(),
                    body=self._text(template.body, False, who, ctx),
                    body_html=self._text(template.body_html, True, who, ctx)
                    if template.body_html
                    else None,
                )
        except TemplateRenderError as exc:  # a deadline missed too: the event fails with why
            raise TemplateRenderError(
                f"template {template.id} (v{template.version}): {exc}"
            ) from exc

    def _text(self, source: str, html: bool, who: str, ctx: dict[str, Any]) -> str:
        key = (source, html, who)
        found = self._texts.get(key)
        if found is None:
            found = self._texts[key] = render_string(source, ctx, html=html)
        return found

    def _plain(self) -> Rendered:
        """No template at all for this channel: a readable message rather than none."""
        title = str(self._env.payload.get("title") or self._env.type)
        return Rendered(subject=title, body=f"{self._env.source}: {title}")
