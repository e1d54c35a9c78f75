"""What a saved filter looks at (DESIGN §5.2): one event seen as the entity's attributes, the
payload and the envelope's own fields, plus the people and the time zones the conditions need.

The processor and the preview both build it from the envelope (``Subject.of``), so a
condition reads the same value in both.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from libs.common.filters import DEFAULT_TIMEZONE, Person, as_number, as_when
from libs.common.schemas.envelope import EventEnvelope


class _Missing:
    """An absent field: never equal to anything, never a date or a number."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()
NOBODY = Person()


@lru_cache(maxsize=1024)
def zone_named(name: str | None) -> tzinfo:
    """A person's zone from the directory; the default for none or an unknown name."""
    try:
        return ZoneInfo(name or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


DEFAULT_ZONE = zone_named(None)


class Subject:
    """One event as conditions see it: the entity's attributes, the payload, the envelope's
    own fields by dotted name, the event time ("now" for the date operators), and the people
    ``roles_any`` asks about. ``memo`` keeps each field's coerced value for the event, so a
    hundred candidates reading ``deadline`` parse it once."""

    __slots__ = ("attributes", "fields", "memo", "payload", "people", "time")

    def __init__(
        self,
        attributes: Mapping[str, Any],
        payload: Mapping[str, Any],
        fields: Mapping[str, Any],
        time: datetime,
        people: Mapping[str, Person] | None = None,
    ) -> None:
        self.attributes, self.payload, self.fields = attributes, payload, fields
        self.time = time
        self.people: Mapping[str, Person] = people if people is not None else {}
        self.memo: dict[Hashable, Any] = {}

    @classmethod
    def of(cls, env: EventEnvelope, people: Mapping[str, Person] | None = None) -> Subject:
        fields = {
            "type": env.type,
            "source": env.source,
            "priority": env.priority.value,
            "project_id": env.project_id,
            "actor.id": env.actor.id if env.actor else None,
            "entity.type": env.entity.type,
            "entity.id": env.entity.id,
            "occurred_at": env.occurred_at.isoformat(),
        }
        return cls(env.entity.attributes, env.payload, fields, env.occurred_at, people)

    def today(self, zone: tzinfo) -> date:
        key = ("today", zone)
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = self.time.astimezone(zone).date()
        return found


Getter = Callable[[Subject], Any]


def _walk(root: Any, path: Sequence[str]) -> Any:
    for name in path:
        if not isinstance(root, dict):
            return MISSING
        root = root.get(name, MISSING)
    return root


def getter(scope: str, field: str) -> Getter:
    """How to read ``field`` of ``scope`` from a subject (one dict lookup per level)."""
    if scope == "event":
        return lambda s: s.fields.get(field, MISSING)
    path = tuple(field.split("."))
    if scope == "payload":
        return lambda s: _walk(s.payload, path)
    if len(path) == 1:
        name = path[0]
        return lambda s: s.attributes.get(name, MISSING)
    return lambda s: _walk(s.attributes, path)


def _memoized(key: Hashable, convert: Callable[[Any], Any], get: Getter) -> Getter:
    """``convert(get(s))``, computed once per subject and field."""

    def read(s: Subject) -> Any:
        memo = s.memo
        if key in memo:
            return memo[key]
        value = memo[key] = convert(get(s))
        return value

    return read


@dataclass(frozen=True)
class Field:
    """One field of a condition: raw, as a number, as a date (each coerced once per event)."""

    raw: Getter
    number: Getter
    when: Getter

    @classmethod
    def of(cls, scope: str, name: str) -> Field:
        raw = getter(scope, name)
        return cls(
            raw,
            _memoized(("number", scope, name), as_number, raw),
            _memoized(("when", scope, name), as_when, raw),
        )
