"""What a saved filter looks at (DESIGN §5.2): one event seen as the entity's attributes, the
payload and the envelope's own fields, plus the people and the time zones the conditions need.

The processor and the preview both build it from the envelope (``Subject.of``), so a
condition reads the same value in both.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from datetime import date, datetime, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from libs.common.filters import DEFAULT_TIMEZONE, Person, When, as_number, as_when
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


# Where a condition reads: (how, name, path, number key, date key) — strings and tuples only.
# A compiled filter is built of such atomic tuples because the processor keeps one for each of
# its ~100,000 subscriptions: tuples of atomic values are not tracked by the garbage collector,
# while closures were (millions of objects that every full collection walked: 3/4 of the
# matching benchmark's time went to the collector).
FieldRef = tuple[int, str, tuple[str, ...], tuple[str, str, str], tuple[str, str, str]]
ATTRIBUTE, NESTED, PAYLOAD, EVENT = 0, 1, 2, 3


@lru_cache(maxsize=4096)  # a few hundred distinct fields: one shared tuple each
def field_ref(scope: str, name: str) -> FieldRef:
    path = tuple(name.split("."))
    if scope == "event":
        how = EVENT
    elif scope == "payload":
        how = PAYLOAD
    else:
        how = ATTRIBUTE if len(path) == 1 else NESTED
    return (how, name, path, ("number", scope, name), ("when", scope, name))


def _walk(root: Any, path: Sequence[str]) -> Any:
    for name in path:
        if not isinstance(root, dict):
            return MISSING
        root = root.get(name, MISSING)
    return root


def raw(s: Subject, ref: FieldRef) -> Any:
    """The field as the event holds it (MISSING when absent): one dict lookup per level."""
    how = ref[0]
    if how == ATTRIBUTE:
        return s.attributes.get(ref[1], MISSING)
    if how == NESTED:
        return _walk(s.attributes, ref[2])
    if how == PAYLOAD:
        return _walk(s.payload, ref[2])
    return s.fields.get(ref[1], MISSING)


def number(s: Subject, ref: FieldRef) -> int | float | None:
    """The field by the number rule, coerced once per event."""
    key = ref[3]
    memo = s.memo
    if key in memo:
        return memo[key]  # type: ignore[no-any-return]
    found = memo[key] = as_number(raw(s, ref))
    return found


def when(s: Subject, ref: FieldRef) -> When | None:
    """The field by the date rule, parsed once per event."""
    key = ref[4]
    memo = s.memo
    if key in memo:
        return memo[key]  # type: ignore[no-any-return]
    found = memo[key] = as_when(raw(s, ref))
    return found
