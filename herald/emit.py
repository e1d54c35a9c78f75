"""``herald emit``: publish a sample or a given event, over HTTP or AMQP."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DEV_API_KEY = "dev-producer-key-change-me"  # only ever accepted by `herald dev`
# `herald dev`'s keys, least privilege (DESIGN §3.1): the demo modules' events in tenant
# default for producers; the permissions scope for Herald's own services; the directory.
DEV_KEYS: dict[str, dict[str, Any]] = {
    DEV_API_KEY: {
        "name": "dev producer",
        "scopes": ["events"],
        "sources": ["tenders", "approvals"],
        "tenants": ["default"],
    },
    "dev-services-key-change-me": {
        "name": "herald services",
        "scopes": ["permissions"],
        "tenants": ["*"],
    },
    "dev-directory-key-change-me": {
        "name": "dev directory",
        "scopes": ["directory"],
        "tenants": ["default"],
    },
}
DEV_SERVICES_KEY, DEV_DIRECTORY_KEY = list(DEV_KEYS)[1:]


def sample_event() -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "source": "tenders",
        "type": "tender.requirement_added",
        "tenant": "default",
        "project_id": "P-42",
        "entity": {
            "type": "tender",
            "id": "T-1001",
            "attributes": {
                "deadline": "2026-12-05",
                "section": "basement",
                "responsible": ["u-17"],
            },
        },
        "actor": {"id": "u-7"},
        "recipients": {"assignee": ["u-17"], "owner": ["u-3"]},
        "priority": "normal",
        "occurred_at": datetime.now(UTC).isoformat(),
        "payload": {"title": "Add fire-safety certificate", "contact_phone": "+7 900 000-00-00"},
    }


def load_event(path: Path | None) -> dict[str, Any]:
    if path is None:
        return sample_event()
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected one JSON object")
    return data
