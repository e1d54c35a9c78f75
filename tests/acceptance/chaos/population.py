"""Who exists in the chaos scenario, what they may read, what they asked for, and the events.

Everything follows from the seed, so the expected outcome is computed (``expected.py``), not
observed. Regular events name two distinct owners of a ticket; some match saved-filter
subscriptions; some are of a digestible type, which the digest-mode users get as ``DIGEST``.
Large events name 5,000 people each, by e-mail only, and those people read e-mail as a digest:
each event must end as 5,000 notifications and 5,000 ``DIGEST`` deliveries, all written by the
processor, none sent during the run. (An instant channel would make the run wait for 5,000
sends per event; the processor has no inbox-only type: an empty default list falls back to
the global defaults.)
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import (
    ChannelPreference,
    DigestSchedule,
    EventType,
    Recipient,
    Subscription,
)
from libs.common.delivery.digest_schedule import next_run_after

TENANT = "default"
SOURCE = "chaos"
PROJECT = "P-1"
OBJECT_TYPE = "ticket"
NOTICE_TYPE = "notice"  # the large events' objects: no subscription looks at them
USERS = 40
OWNERS_PER_OBJECT = 4
MAIL_DOMAIN = "chaos.test"
LARGE_RECIPIENTS = 5_000
DIGESTIBLE_SHARE = 0.3  # of regular events: the commented type, e-mail batched for digest users
SEVERITIES = range(1, 6)
DIGEST_SCHEDULE_AHEAD = timedelta(hours=12)  # no digest may be built while the run lasts


@dataclass(frozen=True)
class ChaosType:
    type: str
    title: str
    digestible: bool
    channels: tuple[str, ...]


UPDATED = ChaosType("ticket.updated", "Ticket updated", False, ("email", "browser"))
COMMENTED = ChaosType("ticket.commented", "Ticket commented", True, ("email", "browser"))
POSTED = ChaosType("notice.posted", "Notice posted", True, ("email",))
TYPES = {t.type: t for t in (UPDATED, COMMENTED, POSTED)}


def user(i: int) -> str:
    return f"u-{i % USERS:03d}"


def owners(obj: int) -> list[str]:
    """Object k belongs to users k … k+3 (wrapping): overlapping groups, no one sees all."""
    return [user(obj + j) for j in range(OWNERS_PER_OBJECT)]


BIG_USERS = tuple(f"b-{i:04d}" for i in range(LARGE_RECIPIENTS))  # the large events' people
# e-mail in digest mode for the module: a few of the 40, and every big user
DIGEST_USERS = frozenset(user(i) for i in range(2, USERS, 5)) | frozenset(BIG_USERS)


@dataclass(frozen=True)
class SavedFilter:
    """A subscription: (field, op, value) conditions, all of which must hold; channels empty
    means the person's default channels."""

    user: str
    conditions: tuple[tuple[str, str, Any], ...]
    channels: tuple[str, ...] = ()

    def matches(self, attributes: dict[str, Any]) -> bool:
        return all(_holds(op, attributes.get(f), v) for f, op, v in self.conditions)


def _holds(op: str, attr: Any, value: Any) -> bool:
    """The two operators the scenario's filters use, evaluated here, not by Herald's code."""
    if op == "eq":
        return bool(attr == value)
    if op == "gte":
        return attr is not None and bool(attr >= value)
    raise ValueError(f"the chaos filters use eq and gte only, not {op!r}")


# Subscribers read every ticket (write_directory). u-000 has two filters, so an event matching
# both asks for the browser twice; u-007 is also a digest user.
SUBSCRIPTIONS = (
    SavedFilter("u-000", (("status", "eq", "open"), ("severity", "gte", 4))),
    SavedFilter("u-000", (("severity", "eq", 5),), ("browser",)),
    SavedFilter("u-013", (("severity", "gte", 5),), ("email",)),
    SavedFilter("u-026", (("status", "eq", "open"), ("severity", "gte", 3)), ("browser",)),
    SavedFilter("u-007", (("severity", "gte", 4),)),
)
SUBSCRIBERS = sorted({s.user for s in SUBSCRIPTIONS})


@dataclass(frozen=True)
class PlannedEvent:
    id: str
    obj: str  # the object's id
    recipients: tuple[str, ...]
    kind: ChaosType = UPDATED
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def entity_type(self) -> str:
        return NOTICE_TYPE if self.kind is POSTED else OBJECT_TYPE

    def body(self) -> dict[str, Any]:
        watchers = list(self.recipients[1:])
        return {
            "id": self.id,
            "source": SOURCE,
            "type": self.kind.type,
            "tenant": TENANT,
            "project_id": PROJECT,
            "entity": {"type": self.entity_type, "id": self.obj, "attributes": self.attributes},
            "recipients": {"assignee": [self.recipients[0]], "watcher": watchers},
            "occurred_at": datetime.now(UTC).isoformat(),
            "payload": {"title": f"{self.entity_type} {self.obj} changed ({self.id})"},
        }


def plan_events(count: int, seed: int) -> list[PlannedEvent]:
    rng = random.Random(seed)
    events = []
    for n in range(count):
        obj = rng.randrange(USERS)
        first, second = rng.sample(owners(obj), 2)
        kind = COMMENTED if rng.random() < DIGESTIBLE_SHARE else UPDATED
        attrs = {"status": rng.choice(("open", "closed")), "severity": rng.choice(SEVERITIES)}
        ident = f"chaos-{seed}-{n:06d}"
        events.append(PlannedEvent(ident, f"T-{obj}", (first, second), kind, attrs))
    return events


def plan_large(count: int, seed: int) -> list[PlannedEvent]:
    """``count`` events of 5,000 recipients each, one notice each, every big user named."""
    return [
        PlannedEvent(f"chaos-{seed}-big-{n}", f"N-{n}", BIG_USERS, POSTED) for n in range(count)
    ]


def write_directory(path: Path, large: int) -> Path:
    """The reference backend's data (``StaticDirectory``): every object and its owners. The
    subscribers own every ticket; the big users own every notice."""
    objects = [
        {
            "module": SOURCE,
            "object_type": OBJECT_TYPE,
            "object_id": f"T-{k}",
            "owners": sorted({*owners(k), *SUBSCRIBERS}),
        }
        for k in range(USERS)
    ]
    big = list(BIG_USERS)
    objects += [
        {"module": SOURCE, "object_type": NOTICE_TYPE, "object_id": f"N-{n}", "owners": big}
        for n in range(large)
    ]
    path.write_text(yaml.safe_dump({"tenants": {TENANT: {"objects": objects}}}), "utf-8")
    return path


def write_modules(path: Path, backend_port: int) -> Path:
    """The mediator's HERALD_ACL_MODULES_FILE: the one module, answered by the backend."""
    modules = {SOURCE: {"base_url": f"http://127.0.0.1:{backend_port}", "timeout_s": 2.0}}
    path.write_text(yaml.safe_dump({"modules": modules}), "utf-8")
    return path


async def seed_population(session: AsyncSession) -> None:
    """Directory rows, the three event types, the subscriptions and the digest users."""
    people = [
        {"tenant": TENANT, "user_id": who, "email": f"{who}@{MAIL_DOMAIN}"}
        for who in [*(user(i) for i in range(USERS)), *BIG_USERS]
    ]
    await session.execute(insert(Recipient), people)
    for t in TYPES.values():
        session.add(EventType(
            key=f"{SOURCE}.{t.type}", source=SOURCE, title=t.title, digestible=t.digestible,
            default_channels=list(t.channels), default_locale="en",
        ))  # fmt: skip
    for n, sub in enumerate(SUBSCRIPTIONS):  # added in order: ids ascend in this order
        session.add(Subscription(
            tenant=TENANT, user_id=sub.user, name=f"chaos filter {n}", source=SOURCE,
            entity_type=OBJECT_TYPE, project_id=PROJECT, channels=list(sub.channels),
            filter=[{"field": f, "op": op, "value": v} for f, op, v in sub.conditions],
        ))  # fmt: skip
    digest = sorted(DIGEST_USERS)
    prefs = [
        {"tenant": TENANT, "user_id": who, "source": SOURCE, "channel": "email", "mode": "digest"}
        for who in digest
    ]
    await session.execute(insert(ChannelPreference), prefs)
    await session.execute(insert(DigestSchedule), [_digest_schedule(who) for who in digest])


def _digest_schedule(who: str) -> dict[str, Any]:
    """Every day, half a day from now: the items wait as DIGEST for the whole run (the default
    schedule, 09:00 local, could fall inside it)."""
    now = datetime.now(UTC)
    days, at = list(range(7)), (now + DIGEST_SCHEDULE_AHEAD).strftime("%H:%M")
    return {
        "tenant": TENANT, "user_id": who, "channel": "email", "days_of_week": days,
        "time_of_day": at, "timezone": "UTC", "enabled": True, "window_start": now,
        "next_run_at": next_run_after(now, days, at, "UTC"), "updated_at": now,
    }  # fmt: skip
