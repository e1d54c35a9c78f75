"""Evaluating saved filters (DESIGN §5.2) against one event, in memory.

A filter is compiled once into predicates (closures over its values): the processor caches
the compiled form of every stored subscription, the preview compiles the filter it was sent.
Both evaluate through this module on the same ``Subject`` built from the same envelope, so
the preview cannot disagree with what the processor would do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, get_args

from libs.common.filter_subject import (
    DEFAULT_ZONE,
    NOBODY,
    Field,
    Getter,
    Subject,
)
from libs.common.filters import (
    DEFAULT_SCOPE,
    Condition,
    FilterError,
    Op,
    Scope,
    When,
    as_when,
    compare_when,
    instant,
    is_number,
    local_day,
    normalized_value,
    stored_filter,
)

Predicate = Callable[[Subject], bool]
ZonedPredicate = Callable[[Subject, tzinfo], bool]
OPS = frozenset(get_args(Op))
SCOPES = frozenset(get_args(Scope))
CONDITION_KEYS = frozenset({"in", "field", "op", "value"})


def _same(a: Any, b: Any) -> bool:
    """Equality as JSON means it: ``true`` is not ``1`` (Python's ``True == 1`` is)."""
    return isinstance(a, bool) is isinstance(b, bool) and bool(a == b)


def people_in(value: Any) -> list[str]:
    """The user ids a person attribute holds: one id, or a list of them."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [x for x in value if isinstance(x, str)]
    return []


def _among(f: Field, options: Sequence[Any]) -> Predicate:
    """``in``: a number option matches a number or numeric string of that value; a string or
    boolean option matches itself exactly."""
    numbers = frozenset(x for x in options if is_number(x))
    others = tuple(x for x in options if not is_number(x))
    if not others:
        return lambda s: f.number(s) in numbers
    return lambda s: f.number(s) in numbers or any(_same(f.raw(s), x) for x in others)


def _value_test(op: str, f: Field, v: Any) -> Predicate | None:
    if op in ("eq", "ne"):
        v = [v]
    elif op not in ("in", "not_in"):
        return None
    among = _among(f, v)
    if op in ("eq", "in"):
        return among
    return lambda s: not among(s)


def _number_range(op: str, f: Field, v: Any) -> Predicate:
    lo, hi = (v, None) if op == "gte" else (None, v) if op == "lte" else v

    def inside(s: Subject) -> bool:
        n = f.number(s)
        return n is not None and (lo is None or n >= lo) and (hi is None or n <= hi)

    return inside


def _date_range(op: str, f: Field, v: Any) -> ZonedPredicate:
    bounds = [as_when(x) for x in (v if op == "between" else [v])]
    lo, hi = (bounds[0], None) if op == "gte" else (None, bounds[0]) if op == "lte" else bounds

    def inside(s: Subject, zone: tzinfo) -> bool:
        w = f.when(s)
        if w is None:
            return False
        return (lo is None or compare_when(w, lo, zone) >= 0) and (
            hi is None or compare_when(w, hi, zone) <= 0
        )

    return inside


def _passed(w: When, s: Subject, zone: tzinfo) -> bool:
    """A moment is past once the event time is after it; a day once the user's today is."""
    if isinstance(w, datetime):
        return instant(w, zone) < s.time
    return w < s.today(zone)


def _day_test(op: str, f: Field, v: Any) -> ZonedPredicate:
    days: int | bool = v if isinstance(v, bool) else int(v)

    def test(s: Subject, zone: tzinfo) -> bool:
        w = f.when(s)
        if w is None:
            return False
        if op == "overdue":
            return _passed(w, s, zone) is days
        gap = (local_day(w, zone) - s.today(zone)).days
        if op == "within_days":
            return abs(gap) <= days
        if op == "due_within_days":
            return gap <= days and not _passed(w, s, zone)
        return gap < -days  # older_than_days

    return test


def _person_test(op: str, f: Field, v: Any) -> Predicate:
    wanted = frozenset(v)
    get = f.raw
    if op == "users_any":
        return lambda s: not wanted.isdisjoint(people_in(get(s)))
    if op == "roles_any":
        return lambda s: any(
            not wanted.isdisjoint(s.people.get(p, NOBODY).roles) for p in people_in(get(s))
        )
    return lambda s: any(s.people.get(p, NOBODY).company_id in wanted for p in people_in(get(s)))


Compiled = tuple[Predicate | None, ZonedPredicate | None, Getter | None]


def _compiled(op: str, f: Field, v: Any) -> Compiled:
    """(a test without a zone, or one in the user's zone, and the people it asks about)."""
    test = _value_test(op, f, v)
    if test is not None:
        return test, None, None
    if op in ("gte", "lte", "between"):
        number = is_number(v[0] if op == "between" else v)
        return (
            (_number_range(op, f, v), None, None) if number else (None, _date_range(op, f, v), None)
        )
    if op in ("within_days", "due_within_days", "overdue", "older_than_days"):
        return None, _day_test(op, f, v), None
    return _person_test(op, f, v), None, f.raw if op != "users_any" else None


def _condition(index: int, raw: Any) -> Compiled:
    """One stored condition, compiled; FilterError when it does not even have the shape."""
    if not (isinstance(raw, dict) and CONDITION_KEYS.issuperset(raw) and "field" in raw):
        raise FilterError(index, f"not a condition: {raw!r}"[:200])
    scope, field, op = raw.get("in", DEFAULT_SCOPE), raw.get("field"), raw.get("op")
    if scope not in SCOPES or not isinstance(op, str) or op not in OPS:
        raise FilterError(index, f"not a condition: {raw!r}"[:200])
    if not isinstance(field, str) or not field:
        raise FilterError(index, f"not a condition: {raw!r}"[:200])
    value = normalized_value(op, raw.get("value"))  # the rules validation applies, again
    try:  # a row edited by hand may hold a value its op cannot take
        return _compiled(op, Field.of(scope, field), value)
    except (TypeError, ValueError, IndexError) as exc:
        raise FilterError(index, f"{op} cannot take {value!r}"[:200]) from exc


@dataclass(frozen=True)
class CompiledFilter:
    tests: tuple[Predicate, ...]
    zoned: tuple[ZonedPredicate, ...]  # need the subscriber's time zone
    person_fields: tuple[Getter, ...]  # attributes naming people whose roles/company matter

    @property
    def needs_zone(self) -> bool:
        return bool(self.zoned)

    def holds_anywhere(self, subject: Subject) -> bool:
        """The conditions that do not depend on the user's zone."""
        return all(test(subject) for test in self.tests)

    def holds_in(self, subject: Subject, zone: tzinfo) -> bool:
        """The conditions that do (dates), for someone in ``zone``."""
        return all(test(subject, zone) for test in self.zoned)

    def holds(self, subject: Subject, zone: tzinfo = DEFAULT_ZONE) -> bool:
        return self.holds_anywhere(subject) and self.holds_in(subject, zone)

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
        tuple(t for t, _, _ in compiled if t),
        tuple(z for _, z, _ in compiled if z),
        tuple(g for _, _, g in compiled if g),
    )


def compile_conditions(conditions: Sequence[Condition]) -> CompiledFilter:
    return compile_filter(stored_filter(conditions))


def matches(conditions: Sequence[Condition], subject: Subject, zone: tzinfo = DEFAULT_ZONE) -> bool:
    return compile_conditions(conditions).holds(subject, zone)


def people_needed(filters: Iterable[CompiledFilter], subject: Subject) -> set[str]:
    wanted: set[str] = set()
    for f in filters:
        if f.person_fields:
            wanted |= f.people(subject)
    return wanted
