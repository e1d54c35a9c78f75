"""What a notification template sees (DESIGN §5 step 5), defined once: the processor renders
with it and the admin previews with it, so a preview that works means a send that works.

``event``, ``entity``, ``actor`` and ``payload`` come from the event; ``recipient`` from the
directory (a person Herald does not know gets the same keys, empty). Undefined names are
template errors, so every key is always present.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from libs.common.schemas.envelope import EventEnvelope

RECIPIENT_KEYS = (
    "user_id",
    "locale",
    "timezone",
    "roles",
    "company_id",
    "manager_id",
    "attributes",
)


def event_context(event_id: str, env: EventEnvelope) -> dict[str, Any]:
    """The person-independent part: the same for every recipient of the event."""
    return {
        "event": {
            "id": event_id,
            "source_event_id": env.id,
            "source": env.source,
            "type": env.type,
            "tenant": env.tenant,
            "project_id": env.project_id,
            "priority": env.priority.value,
            "occurred_at": env.occurred_at.isoformat(),
        },
        "entity": env.entity.model_dump(),
        "actor": env.actor.model_dump() if env.actor else {},
        "payload": env.payload,
    }


def recipient_context(
    user_id: str,
    *,
    locale: str | None = None,
    timezone: str | None = None,
    roles: Iterable[str] = (),
    company_id: str | None = None,
    manager_id: str | None = None,
    attributes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``recipient``: roles sorted, so a text listing them is the same on every render."""
    return {
        "user_id": user_id,
        "locale": locale,
        "timezone": timezone,
        "roles": sorted(roles),
        "company_id": company_id,
        "manager_id": manager_id,
        "attributes": attributes if attributes is not None else {},
    }


def message_context(base: dict[str, Any], recipient: dict[str, Any], locale: str) -> dict[str, Any]:
    """One recipient's full context: ``base`` from ``event_context``, rendered in ``locale``
    (the template's locale, which may differ from the person's own)."""
    return {**base, "recipient": {**recipient, "locale": locale}}
