"""One event → the people to notify, their deliveries and the rendered texts (DESIGN §5
steps 3-5). Pure: everything it needs was loaded by ``batch.py``; it writes nothing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypedDict

from libs.common.db.models import DeliveryRow, DeliveryStatus
from libs.common.delivery.escalation import Step
from libs.common.schemas.envelope import EventEnvelope
from libs.common.templating.templates import Rendered
from services.processor.catalog import Snapshot, TypeInfo
from services.processor.channels import Claim, Planned, Prefs, Terms, plan_person
from services.processor.directory import Entry
from services.processor.matching import Candidate
from services.processor.render import EventRenderer

DIRECTORY_SOURCE = "directory"
DIRECTORY_UPDATE = "user.updated"
INBOX = "inbox"


@dataclass(frozen=True)
class Loaded:
    """A claimed event: its row id, parsed envelope and when ingest stored it."""

    id: str
    env: EventEnvelope
    received_at: datetime

    @property
    def is_directory_update(self) -> bool:
        return self.env.source == DIRECTORY_SOURCE and self.env.type == DIRECTORY_UPDATE


@dataclass
class PersonPlan:
    user_id: str
    reason: str
    inbox: Rendered
    deliveries: list[tuple[Planned, Rendered]] = field(default_factory=list)
    escalation: tuple[Step, ...] = ()  # critical: the type's chain, planned with the notification


def direct_claims(env: EventEnvelope, etype: TypeInfo) -> list[Claim]:
    actor = env.actor.id if env.actor else None
    return [
        Claim(user, f"direct:{roles[0]}")
        for user, roles in env.direct_recipients().items()
        if user != actor or etype.notify_actor
    ]


def audience_claims(
    env: EventEnvelope, etype: TypeInfo, found: list[tuple[str, str]]
) -> list[Claim]:
    """The people the event's audience names (``audience:<role>``), after its recipients."""
    actor = env.actor.id if env.actor else None
    return [Claim(user, reason) for user, reason in found if user != actor or etype.notify_actor]


def subscription_claims(
    env: EventEnvelope, etype: TypeInfo, matched: list[Candidate]
) -> list[Claim]:
    """The subscribers of the matching subscriptions (``matching.py``), in id order."""
    actor = env.actor.id if env.actor else None
    return [
        Claim(c.user_id, f"subscription:{c.id}", c.channels)
        for c in matched
        if c.user_id != actor or etype.notify_actor
    ]


def by_person(claims: list[Claim]) -> dict[str, list[Claim]]:
    """Claims grouped by person, in claim order (direct first, then subscriptions by id)."""
    grouped: dict[str, list[Claim]] = {}
    for claim in claims:
        grouped.setdefault(claim.user_id, []).append(claim)
    return grouped


class EventPlanner:
    """Renders one event for one person at a time, so a caller can write a large fan-out in
    chunks instead of holding every rendered text of the event at once."""

    def __init__(
        self,
        event: Loaded,
        snapshot: Snapshot,
        people: Mapping[str, Entry],
        prefs: Mapping[str, Prefs],
        digests: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        self.event = event
        self._etype = snapshot.event_type(event.env.tenant, event.env.source, event.env.type)
        self._renderer = EventRenderer(snapshot, self._etype, event.id, event.env)
        self._people, self._prefs, self._digests = people, prefs, digests or {}
        self._available = snapshot.available
        self._defaults = snapshot.default_modes(event.env.tenant)  # what users did not set
        self._unset: Terms | None = None  # of everyone who set no preference and no digest

    def _terms(self, user_id: str) -> Terms:
        prefs, digests = self._prefs.get(user_id), self._digests.get(user_id)
        if prefs is None and digests is None:  # most people: one Terms for all of them
            if self._unset is None:
                self._unset = self._make_terms({}, frozenset())
            return self._unset
        return self._make_terms(prefs or {}, digests or frozenset())

    def _make_terms(self, prefs: Prefs, digests: frozenset[str]) -> Terms:
        env = self.event.env
        return Terms(
            env.source, self._etype, env.priority, prefs, digests, self._available, self._defaults
        )

    def person(self, user_id: str, claims: list[Claim]) -> PersonPlan:
        person = self._people.get(user_id)
        inbox = self._renderer.render(INBOX, user_id, person)
        pp = PersonPlan(user_id, claims[0].reason, inbox)
        terms = self._terms(user_id)
        if terms.critical:
            pp.escalation = self._etype.escalation
        planned = plan_person(claims, terms, person)
        for item in planned:
            skipped = item.status is DeliveryStatus.SKIPPED  # not sent: the inbox text will do
            text = inbox if skipped else self._renderer.render(item.channel, user_id, person)
            pp.deliveries.append((item, text))
        return pp


class NotificationRow(TypedDict):
    """One ``notifications`` row to insert: a person's inbox entry for the event."""

    tenant: str
    event_id: str
    user_id: str
    reason: str
    source: str
    type: str
    entity_type: str
    entity_id: str
    project_id: str | None
    priority: str
    title: str
    body: str
    created_at: datetime


def notification_row(event: Loaded, pp: PersonPlan, now: datetime) -> NotificationRow:
    env = event.env
    return {
        "tenant": env.tenant,
        "event_id": event.id,
        "user_id": pp.user_id,
        "reason": pp.reason[:256],
        "source": env.source,
        "type": env.type,
        "entity_type": env.entity.type,
        "entity_id": env.entity.id,
        "project_id": env.project_id,
        "priority": env.priority.value,
        "title": pp.inbox.subject,
        "body": pp.inbox.body,
        "created_at": now,
    }


def delivery_rows(
    event: Loaded, pp: PersonPlan, notification_id: int, now: datetime
) -> list[DeliveryRow]:
    return [
        {
            "notification_id": notification_id,
            "tenant": event.env.tenant,
            "user_id": pp.user_id,
            "source": event.env.source,
            "channel": planned.channel,
            "status": planned.status.value,
            "reason": planned.reason[:256],
            "subject": text.subject,
            "body": text.body if planned.status is not DeliveryStatus.SKIPPED else "",
            "body_html": text.body_html,
            "attempts": 0,
            "next_attempt_at": now if planned.status is DeliveryStatus.PENDING else None,
            "created_at": now,
        }
        for planned, text in pp.deliveries
    ]
