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

from libs.common.subscriptions.filter_subject import (
    DEFAULT_ZONE,
    FieldRef,
    Subject,
    companies,
    field_ref,
    ids,
    number,
    people_in,
    raw,
    roles,
    when,
)
from libs.common.subscriptions.filters import (
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

# A compiled condition: (op, where it reads, its value prepared for the test) — atomic tuples
# only (filter_subject.py says why). Values: eq/in → (numbers, other options); ranges → (low,
# high) with None for an open end; day operators → the count (or overdue's boolean); person
# operators → the ids.
Cond = tuple[str, FieldRef, Any]
Test = Callable[[Subject, FieldRef, Any, tzinfo], bool]
OPS = frozenset(get_args(Op))
SCOPES = frozenset(get_args(Scope))
CONDITION_KEYS = frozenset({"in", "field", "op", "value"})
ZONED_OPS = frozenset({"within_days", "due_within_days", "overdue", "older_than_days"})


def _among(s: Subject, ref: FieldRef, v: Any, zone: tzinfo) -> bool:
    """``eq``/``in``: a string option matches the same string, a boolean the same boolean,
    a number option a number or numeric string of that value (the coercion rules)."""
    numbers, strings, booleans = v
    a = raw(s, ref)
    kind = type(a)
    if kind is str:
        if a in strings:
            return True
    elif kind is bool:
        return a in booleans
    if not numbers:
        return False
    n = number(s, ref)
    return n is not None and n in numbers


def _not_among(s: Subject, ref: FieldRef, v: Any, zone: tzinfo) -> bool:
    return not _among(s, ref, v, zone)


def _number_range(s: Subject, ref: FieldRef, v: Any, zone: tzinfo) -> bool:
    n = number(s, ref)
    lo, hi = v
    return n is not None and (lo is None or n >= lo) and (hi is None or n <= hi)


def _date_range(s: Subject, ref: FieldRef, v: Any, zone: tzinfo) -> bool:
    w = when(s, ref)
    if w is None:
        return False
    lo, hi = v
    return (lo is None or compare_when(w, lo, zone) >= 0) and (
        hi is None or compare_when(w, hi, zone) <= 0
    )


def _passed(w: When, s: Subject, zone: tzinfo) -> bool:
    """A moment is past once the event time is after it; a day once the user's today is."""
    if isinstance(w, datetime):
        return instant(w, zone) < s.time
    return w < s.today(zone)


def _gap(w: When, s: Subject, zone: tzinfo) -> int:
    return (local_day(w, zone) - s.today(zone)).days


def _within(s: Subject, ref: FieldRef, v: Any, zone: tzinfo) -> bool:
    w = when(s, ref)
    return w is not None and abs(_gap(w, s, zone)) <= v


def _due_within(s: Subject, ref: FieldRef, v: Any, zone: tzinfo) -> bool:
    w = when(s, ref)
    return w is not None and _gap(w, s, zone) <= v and not _passed(w, s, zone)


def _overdue(s: Subject, ref: FieldRef, v: Any, zone: tzinfo) -> bool:
    w = when(s, ref)
    return w is not None and _passed(w, s, zone) is v


def _older_than(s: Subject, ref: FieldRef, v: Any, zone: tzinfo) -> bool:
    w = when(s, ref)
    return w is not None and _gap(w, s, zone) < -v


# The person operators: the field's ids, and their roles or companies, are worked out once per
# event (filter_subject.py); each candidate then asks whether its own ids meet them.
def _users_any(s: Subject, ref: FieldRef, v: Any, zone: tzinfo) -> bool:
    return not ids(s, ref).isdisjoint(v)


def _roles_any(s: Subject, ref: FieldRef, v: Any, zone: tzinfo) -> bool:
    return not roles(s, ref).isdisjoint(v)


def _companies_any(s: Subject, ref: FieldRef, v: Any, zone: tzinfo) -> bool:
    return not companies(s, ref).isdisjoint(v)


TESTS: dict[str, Test] = {
    "eq": _among, "in": _among, "ne": _not_among, "not_in": _not_among,
    "within_days": _within, "due_within_days": _due_within, "overdue": _overdue,
    "older_than_days": _older_than, "users_any": _users_any, "roles_any": _roles_any,
    "companies_any": _companies_any,
}  # fmt: skip


def _range(op: str, v: Any) -> tuple[str, Any, bool]:
    """(test, (low, high), needs the zone): number bounds, or date bounds read in the zone."""
    bounds = v if op == "between" else [v, None] if op == "gte" else [None, v]
    if any(is_number(b) for b in bounds):
        return "number_range", tuple(bounds), False
    dates = tuple(as_when(b) if b is not None else None for b in bounds)
    if any(b is not None and d is None for b, d in zip(bounds, dates, strict=True)):
        raise ValueError(f"not a date: {v!r}")
    return "date_range", dates, True


def _options(values: Any) -> tuple[tuple[Any, ...], tuple[str, ...], tuple[bool, ...]]:
    """(numbers, strings, booleans) among the options of eq/in."""
    numbers, strings, booleans = [], [], []
    for x in values:
        kind = type(x)
        if kind is str:
            strings.append(x)
        elif kind is bool:
            booleans.append(x)
        elif kind is int or kind is float:
            numbers.append(x)
        else:
            raise ValueError(f"not a string, number or boolean: {x!r}")
    return tuple(numbers), tuple(strings), tuple(booleans)


def _prepared(op: str, v: Any) -> tuple[str, Any, bool]:
    """(test name, the value as the test wants it, whether the test needs the user's zone)."""
    if op in ("eq", "ne", "in", "not_in"):
        return op, _options([v] if op in ("eq", "ne") else v), False
    if op in ("gte", "lte", "between"):
        return _range(op, v)
    if op in ZONED_OPS:
        return op, v if isinstance(v, bool) else int(v), True
    return op, tuple(str(x) for x in v), False


TESTS["number_range"], TESTS["date_range"] = _number_range, _date_range


def _not_a_condition(index: int, raw_cond: Any) -> FilterError:
    return FilterError(index, f"not a condition: {raw_cond!r}"[:200])


def _condition(index: int, raw_cond: Any) -> tuple[Cond, bool]:
    """One stored condition, compiled, and whether it needs the user's zone; FilterError when
    it does not even have the shape."""
    if not (isinstance(raw_cond, dict) and CONDITION_KEYS.issuperset(raw_cond)):
        raise _not_a_condition(index, raw_cond)
    scope, field, op = raw_cond.get("in", DEFAULT_SCOPE), raw_cond.get("field"), raw_cond.get("op")
    if scope not in SCOPES or not isinstance(op, str) or op not in OPS:
        raise _not_a_condition(index, raw_cond)
    if not isinstance(field, str) or not field:
        raise _not_a_condition(index, raw_cond)
    value = normalized_value(op, raw_cond.get("value"))  # the rules validation applies, again
    try:  # a row edited by hand may hold a value its op cannot take
        test, prepared, zoned = _prepared(op, value)
    except (TypeError, ValueError, IndexError) as exc:
        raise FilterError(index, f"{op} cannot take {value!r}"[:200]) from exc
    return (test, field_ref(scope, field), prepared), zoned


@dataclass(frozen=True, slots=True)
class CompiledFilter:
    tests: tuple[Cond, ...]
    zoned: tuple[Cond, ...]  # need the subscriber's time zone
    person_fields: tuple[FieldRef, ...]  # attributes naming people whose roles/company matter

    @property
    def needs_zone(self) -> bool:
        return bool(self.zoned)

    def holds_anywhere(self, subject: Subject) -> bool:
        """The conditions that do not depend on the user's zone."""
        for test, ref, value in self.tests:
            if not TESTS[test](subject, ref, value, DEFAULT_ZONE):
                return False
        return True

    def holds_in(self, subject: Subject, zone: tzinfo) -> bool:
        """The conditions that do (dates), for someone in ``zone``."""
        for test, ref, value in self.zoned:  # noqa: SIM110 - no generator per candidate
            if not TESTS[test](subject, ref, value, zone):
                return False
        return True

    def holds(self, subject: Subject, zone: tzinfo = DEFAULT_ZONE) -> bool:
        return self.holds_anywhere(subject) and self.holds_in(subject, zone)

    def people(self, subject: Subject) -> set[str]:
        """User ids whose roles or company these conditions ask about."""
        return {p for ref in self.person_fields for p in people_in(raw(subject, ref))}


# The order the zone-free tests run in: all must hold, so the one most likely to fail and
# cheapest goes first (a person's id among a few, then value tests, then the roles, which read
# the directory); the rest keep their saved order. The matching benchmark's ~120 candidates
# per event then stop at the first test more often (148 → ~125 tests per event).
TEST_ORDER = {"users_any": 0, "companies_any": 1, "eq": 2, "in": 2, "not_in": 3, "ne": 3,
              "number_range": 4, "roles_any": 5}  # fmt: skip


def _first_to_fail(cond: Cond) -> int:
    return TEST_ORDER.get(cond[0], len(TEST_ORDER))


def compile_filter(raw_filter: Any) -> CompiledFilter:
    """A stored filter (already validated when saved: only its shape is checked here, full
    validation cost more than evaluating it) → its compiled conditions. Raises FilterError."""
    if not isinstance(raw_filter, list):
        raise FilterError(None, "a filter is a list of conditions")
    compiled = [_condition(i, cond) for i, cond in enumerate(raw_filter)]
    return CompiledFilter(
        tuple(sorted((c for c, zoned in compiled if not zoned), key=_first_to_fail)),
        tuple(c for c, zoned in compiled if zoned),
        tuple(c[1] for c, _ in compiled if c[0] in ("roles_any", "companies_any")),
    )


def compile_conditions(conditions: Sequence[Condition]) -> CompiledFilter:
    return compile_filter(stored_filter(conditions))


def matches(conditions: Sequence[Condition], subject: Subject, zone: tzinfo = DEFAULT_ZONE) -> bool:
    return compile_conditions(conditions).holds(subject, zone)


def people_needed(filters: Iterable[CompiledFilter], subject: Subject) -> set[str]:
    """The people any of these filters asks the roles or company of: each distinct field read
    once (a hundred candidates mostly ask about the same one or two attributes)."""
    refs = {ref for f in filters for ref in f.person_fields}  # ~120 filters, few such fields
    found: set[str] = set()
    for ref in refs:
        found |= ids(subject, ref)  # kept for the users_any tests of the first pass
    return found
