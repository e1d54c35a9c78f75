"""Evaluating saved filters (DESIGN §5.2) against one event, in memory.

A filter is compiled once into predicates (closures over its values): the processor caches
the compiled form of every stored subscription, the preview compiles the filter it was sent.
Both evaluate through this module on the same ``Subject`` built from the same envelope, so
the preview cannot disagree with what the processor would do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, get_args

from libs.common.filters import (
    DEFAULT_SCOPE,
    Condition,
    FilterError,
    Op,
    Person,
    Scope,
    as_date,
    is_number,
    stored_filter,
)
from libs.common.schemas.envelope import EventEnvelope


class _Missing:
    """An absent field: never equal to anything, never a date or a number."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING = _Missing()
NOBODY = Person()
OPS = frozenset(get_args(Op))
SCOPES = frozenset(get_args(Scope))
CONDITION_KEYS = frozenset({"in", "field", "op", "value"})


class Subject:
    """One event as conditions see it: the entity's attributes, the payload, the envelope's
    own fields by dotted name, the event time, and the people ``roles_any`` asks about."""

    __slots__ = ("attributes", "fields", "payload", "people", "time")

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


Getter = Callable[[Subject], Any]
Predicate = Callable[[Subject], bool]


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


def _same(a: Any, b: Any) -> bool:
    """Equality as JSON means it: ``true`` is not ``1`` (Python's ``True == 1`` is)."""
    return isinstance(a, bool) is isinstance(b, bool) and bool(a == b)


def _compare(attr: Any, bound: Any) -> int | None:
    """-1/0/1 comparing attr with bound (numbers, or dates); None if not comparable."""
    if is_number(bound):
        if not is_number(attr):
            return None
        return int(attr > bound) - int(attr < bound)
    a, b = as_date(attr), as_date(bound)
    if a is None or b is None:
        return None
    return (a > b) - (a < b)


def people_in(value: Any) -> list[str]:
    """The user ids a person attribute holds: one id, or a list of them."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [x for x in value if isinstance(x, str)]
    return []


def _value_test(op: str, get: Getter, v: Any) -> Predicate | None:
    if op == "eq":
        return lambda s: _same(get(s), v)
    if op == "ne":
        return lambda s: not _same(get(s), v)
    if op in ("in", "not_in"):
        options = tuple(v)
        if op == "in":
            return lambda s: any(_same(get(s), x) for x in options)
        return lambda s: not any(_same(get(s), x) for x in options)
    return None


def _range_test(op: str, get: Getter, v: Any) -> Predicate | None:
    if op in ("gte", "lte"):
        sign = 1 if op == "gte" else -1

        def bounded(s: Subject) -> bool:
            c = _compare(get(s), v)
            return c is not None and c * sign >= 0

        return bounded
    if op == "between":
        lo, hi = v

        def between(s: Subject) -> bool:
            attr = get(s)
            a, b = _compare(attr, lo), _compare(attr, hi)
            return a is not None and b is not None and a >= 0 and b <= 0

        return between
    if op == "within_days":

        def within(s: Subject) -> bool:
            day = as_date(get(s))
            return day is not None and abs((day - s.time.date()).days) <= v

        return within
    return None


def _person_test(op: str, get: Getter, v: Any) -> Predicate:
    wanted = frozenset(v)
    if op == "users_any":
        return lambda s: not wanted.isdisjoint(people_in(get(s)))
    if op == "roles_any":
        return lambda s: any(
            not wanted.isdisjoint(s.people.get(p, NOBODY).roles) for p in people_in(get(s))
        )
    return lambda s: any(s.people.get(p, NOBODY).company_id in wanted for p in people_in(get(s)))


def _condition(index: int, raw: Any) -> tuple[Predicate, Getter | None]:
    """One stored condition as a predicate, and the getter of the people it asks about."""
    if not (isinstance(raw, dict) and CONDITION_KEYS.issuperset(raw) and "value" in raw):
        raise FilterError(index, f"not a condition: {raw!r}"[:200])
    scope, field, op = raw.get("in", DEFAULT_SCOPE), raw.get("field"), raw.get("op")
    if scope not in SCOPES or not isinstance(op, str) or op not in OPS:
        raise FilterError(index, f"not a condition: {raw!r}"[:200])
    if not isinstance(field, str) or not field:
        raise FilterError(index, f"not a condition: {raw!r}"[:200])
    get = getter(scope, field)
    try:  # a row edited by hand may hold a value its op cannot take
        test = _value_test(op, get, raw["value"]) or _range_test(op, get, raw["value"])
        if test is not None:
            return test, None
        return _person_test(op, get, raw["value"]), get if op != "users_any" else None
    except (TypeError, ValueError) as exc:
        raise FilterError(index, f"{op} cannot take {raw['value']!r}"[:200]) from exc


@dataclass(frozen=True)
class CompiledFilter:
    tests: tuple[Predicate, ...]
    person_fields: tuple[Getter, ...]  # attributes naming people whose roles/company matter

    def holds(self, subject: Subject) -> bool:
        return all(test(subject) for test in self.tests)

    def people(self, subject: Subject) -> set[str]:
        """User ids whose roles or company these conditions ask about."""
        return {p for get in self.person_fields for p in people_in(get(subject))}


def compile_filter(raw: Any) -> CompiledFilter:
    """A stored filter (already validated when saved: only its shape is checked here, full
    validation cost more than evaluating it) → its predicates. Raises FilterError."""
    if not isinstance(raw, list):
        raise FilterError(None, "a filter is a list of conditions")
    compiled = [_condition(i, cond) for i, cond in enumerate(raw)]
    return CompiledFilter(
        tuple(test for test, _ in compiled), tuple(get for _, get in compiled if get)
    )


def compile_conditions(conditions: Sequence[Condition]) -> CompiledFilter:
    return compile_filter(stored_filter(conditions))


def matches(conditions: Sequence[Condition], subject: Subject) -> bool:
    return compile_conditions(conditions).holds(subject)


def people_needed(filters: Iterable[CompiledFilter], subject: Subject) -> set[str]:
    wanted: set[str] = set()
    for f in filters:
        if f.person_fields:
            wanted |= f.people(subject)
    return wanted
