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

from libs.common.schemas.envelope import EventEnvelope
from libs.common.subscriptions.filters import DEFAULT_TIMEZONE, Person, When, as_number, as_when


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
    hundred candidates reading ``deadline`` parse it once (and the ids a person field names);
    ``known`` keeps those people's roles and companies, forgotten whenever ``people`` is
    replaced."""

    __slots__ = ("_people", "attributes", "fields", "known", "memo", "payload", "time")

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
        self.people = people if people is not None else {}
        self.memo: dict[Hashable, Any] = {}

    @property
    def people(self) -> Mapping[str, Person]:
        return self._people

    @people.setter
    def people(self, people: Mapping[str, Person]) -> None:
        self._people = people
        self.known: dict[str, frozenset[Any]] = {}  # roles and companies depend on people

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


# Where a condition reads: (how, name, path, number key, date key, ids key, roles key,
# companies key) — strings and tuples only.
# A compiled filter is built of such atomic tuples because the processor keeps one for each of
# its ~100,000 subscriptions: tuples of atomic values are not tracked by the garbage collector,
# while closures were (millions of objects that every full collection walked: 3/4 of the
# matching benchmark's time went to the collector).
FieldRef = tuple[
    int, str, tuple[str, ...], tuple[str, str, str], tuple[str, str, str], str, str, str
]
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
    where = f"{scope}:{name}"  # the scope has no colon: unambiguous
    return (how, name, path, ("number", scope, name), ("when", scope, name),
            f"ids:{where}", f"roles:{where}", f"companies:{where}")  # fmt: skip


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
    found = s.memo.get(ref[3], MISSING)
    if found is MISSING:
        found = s.memo[ref[3]] = as_number(raw(s, ref))
    return found  # type: ignore[no-any-return]


def when(s: Subject, ref: FieldRef) -> When | None:
    """The field by the date rule, parsed once per event."""
    found = s.memo.get(ref[4], MISSING)
    if found is MISSING:
        found = s.memo[ref[4]] = as_when(raw(s, ref))
    return found  # type: ignore[no-any-return]


def people_in(value: Any) -> list[str]:
    """The user ids a person attribute holds: one id, or a list of them."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [x for x in value if isinstance(x, str)]
    return []


def ids(s: Subject, ref: FieldRef) -> frozenset[str]:
    """The user ids the field names, read once per event: ``users_any`` holds when they meet
    its ids."""
    found = s.memo.get(ref[5])  # the memo: ids do not depend on ``people``
    if found is None:
        found = s.memo[ref[5]] = frozenset(people_in(raw(s, ref)))
    return found


def roles(s: Subject, ref: FieldRef) -> frozenset[str]:
    """Every role the people the field names hold (in ``s.people``): ``roles_any`` holds when
    one of them has one of its roles, that is when this union meets them."""
    found = s.known.get(ref[6])
    if found is None:
        people = s.people
        found = frozenset().union(*(people.get(p, NOBODY).roles for p in ids(s, ref)))
        s.known[ref[6]] = found
    return found


def companies(s: Subject, ref: FieldRef) -> frozenset[str | None]:
    """The companies of the people the field names (None for someone without one)."""
    found = s.known.get(ref[7])
    if found is None:
        people = s.people
        found = frozenset(people.get(p, NOBODY).company_id for p in ids(s, ref))
        s.known[ref[7]] = found
    return found
