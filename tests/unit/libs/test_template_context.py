"""The template context, one definition for the processor and the admin's previews: every
documented key is there, also for a person the directory does not know."""

from __future__ import annotations

from typing import Any

import pytest

from libs.common.schemas.envelope import validate_body
from libs.common.templating.template_context import (
    RECIPIENT_KEYS,
    event_context,
    message_context,
    recipient_context,
)
from libs.common.templating.templates import TemplateRenderError, render_string

BODY: dict[str, Any] = {
    "id": "src-1",
    "source": "tenders",
    "type": "tender.requirement_added",
    "tenant": "acme",
    "project_id": "P-42",
    "entity": {"type": "tender", "id": "T-1001", "attributes": {"section": "basement"}},
    "actor": {"id": "u-7"},
    "priority": "critical",
    "occurred_at": "2026-11-26T10:00:00+00:00",
    "payload": {"title": "Add fire-safety certificate"},
}
EVERY_KEY = (
    "{{ event.id }}|{{ event.source_event_id }}|{{ event.source }}|{{ event.type }}|"
    "{{ event.tenant }}|{{ event.project_id }}|{{ event.priority }}|{{ event.occurred_at }}|"
    "{{ entity.type }}:{{ entity.id }}:{{ entity.attributes.section }}|{{ actor.id }}|"
    "{{ payload.title }}|{{ recipient.user_id }}|{{ recipient.locale }}|"
    "{{ recipient.timezone }}|{{ recipient.roles | join(',') }}|{{ recipient.company_id }}|"
    "{{ recipient.manager_id }}|{{ recipient.attributes | length }}"
)


def test_every_documented_key_renders_for_a_known_person() -> None:
    base = event_context("ev-1", validate_body(BODY))
    person = recipient_context(
        "u-17",
        locale="en",
        timezone="Europe/Moscow",
        roles={"designer", "approver"},
        company_id="c-1",
        manager_id="u-3",
        attributes={"desk": 4},
    )
    out = render_string(EVERY_KEY, message_context(base, person, "ru"))
    assert out == (
        "ev-1|src-1|tenders|tender.requirement_added|acme|P-42|critical|"
        "2026-11-26T10:00:00+00:00|tender:T-1001:basement|u-7|Add fire-safety certificate|"
        "u-17|ru|Europe/Moscow|approver,designer|c-1|u-3|1"
    )  # the template's locale wins over the person's own; roles come sorted


def test_an_unknown_person_has_the_same_keys_empty() -> None:
    unknown = recipient_context("u-99")
    assert tuple(unknown) == RECIPIENT_KEYS
    assert tuple(recipient_context("u-1", roles=["x"])) == RECIPIENT_KEYS
    base = event_context("ev-1", validate_body({**BODY, "actor": None}))
    context = message_context(base, unknown, "en")
    assert render_string("{{ recipient.timezone }}/{{ recipient.roles | length }}", context) == (
        "None/0"
    )
    assert context["actor"] == {}
    with pytest.raises(TemplateRenderError, match="Undefined"):
        render_string("{{ recipient.nickname }}", context)  # names outside the context fail
