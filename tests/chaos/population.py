"""Who exists in the chaos scenario, what they may read, and the events that name them.

Everything follows from the seed, so the expected outcome is computed, not observed: each
event names two distinct people who own its object; both have an e-mail address, and the
event type's default channels are e-mail and the browser, so each event must end as exactly
two notifications and four deliveries, all ``SENT``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import EventType, Recipient

TENANT = "default"
SOURCE = "chaos"
EVENT_TYPE = "ticket.updated"
OBJECT_TYPE = "ticket"
CHANNELS = ("email", "browser")
USERS = 40
OWNERS_PER_OBJECT = 4
MAIL_DOMAIN = "chaos.test"


def user(i: int) -> str:
    return f"u-{i % USERS:03d}"


def owners(obj: int) -> list[str]:
    """Object k belongs to users k … k+3 (wrapping): overlapping groups, no one sees all."""
    return [user(obj + j) for j in range(OWNERS_PER_OBJECT)]


@dataclass(frozen=True)
class PlannedEvent:
    id: str
    obj: int
    recipients: tuple[str, str]

    def body(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": SOURCE,
            "type": EVENT_TYPE,
            "tenant": TENANT,
            "project_id": "P-1",
            "entity": {"type": OBJECT_TYPE, "id": f"T-{self.obj}"},
            "recipients": {"assignee": [self.recipients[0]], "watcher": [self.recipients[1]]},
            "occurred_at": datetime.now(UTC).isoformat(),
            "payload": {"title": f"ticket T-{self.obj} changed ({self.id})"},
        }


def plan_events(count: int, seed: int) -> list[PlannedEvent]:
    rng = random.Random(seed)
    events = []
    for n in range(count):
        obj = rng.randrange(USERS)
        first, second = rng.sample(owners(obj), 2)
        events.append(PlannedEvent(f"chaos-{seed}-{n:06d}", obj, (first, second)))
    return events


def expected_deliveries(events: list[PlannedEvent]) -> set[tuple[str, str, str]]:
    """(event id, user, channel) for every delivery the scenario must end with."""
    return {(e.id, who, ch) for e in events for who in e.recipients for ch in CHANNELS}


def write_directory(path: Path) -> Path:
    """The reference backend's data (``StaticDirectory``): every object and its owners."""
    objects = [
        {"module": SOURCE, "object_type": OBJECT_TYPE, "object_id": f"T-{k}", "owners": owners(k)}
        for k in range(USERS)
    ]
    path.write_text(yaml.safe_dump({"tenants": {TENANT: {"objects": objects}}}), "utf-8")
    return path


def write_modules(path: Path, backend_port: int) -> Path:
    """The mediator's HERALD_ACL_MODULES_FILE: the one module, answered by the backend."""
    modules = {SOURCE: {"base_url": f"http://127.0.0.1:{backend_port}", "timeout_s": 2.0}}
    path.write_text(yaml.safe_dump({"modules": modules}), "utf-8")
    return path


async def seed_population(session: AsyncSession) -> None:
    """Directory rows with e-mail, and an instant (not digestible) e-mail + browser type."""
    for i in range(USERS):
        session.add(Recipient(tenant=TENANT, user_id=user(i), email=f"{user(i)}@{MAIL_DOMAIN}"))
    session.add(
        EventType(
            key=f"{SOURCE}.{EVENT_TYPE}",
            source=SOURCE,
            title="Ticket updated",
            digestible=False,
            default_channels=list(CHANNELS),
            default_locale="en",
        )
    )
