"""Saved-filter conditions (DESIGN §5.2): validated when saved, evaluated in memory.

A filter is a list of conditions on the event entity's attributes, all of which must hold:
``{"field": "deadline", "op": "within_days", "value": 7}``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

Op = Literal[
    "eq", "ne", "in", "not_in", "gte", "lte", "between",
    "within_days", "users_any", "roles_any", "companies_any",
]  # fmt: skip
PERSON_OPS = {"users_any", "roles_any", "companies_any"}
MAX_CONDITIONS = 20
MAX_LIST = 500
MAX_WITHIN_DAYS = 3650
Scalar = str | int | float | bool


class FilterError(ValueError):
    """A filter that cannot be saved; ``index`` names the bad condition."""

    def __init__(self, index: int | None, message: str) -> None:
        where = f"condition {index}: " if index is not None else ""
        super().__init__(f"{where}{message}")
        self.index = index
        self.message = message


def _as_date(value: Any) -> date | None:
    """An ISO date or datetime string (or object) as a date; None if it is not one."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
        except ValueError:
            return None
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _orderable(value: Any) -> bool:
    return _is_number(value) or _as_date(value) is not None


def _not_finite(value: Any) -> bool:
    """NaN or ±Infinity (JSON ``NaN``, ``Infinity``, ``1e400``): stored JSON has no such
    number (it would become null), and NaN compares false with everything."""
    if isinstance(value, list):
        return any(_not_finite(x) for x in value)
    return isinstance(value, float) and not math.isfinite(value)


def _same(a: Any, b: Any) -> bool:
    """Equality as JSON means it: ``true`` is not ``1`` (Python's ``True == 1`` is)."""
    return isinstance(a, bool) is isinstance(b, bool) and bool(a == b)


def _among(value: Any, options: Sequence[Any]) -> bool:
    return any(_same(value, x) for x in options)


class Condition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str = Field(min_length=1, max_length=64, examples=["deadline"])
    op: Op
    value: Any = Field(examples=[7])

    @model_validator(mode="after")
    def _value_fits_op(self) -> Condition:
        v, op = self.value, self.op
        if _not_finite(v):
            raise ValueError(f"{op} needs finite numbers (no NaN or Infinity)")
        if op in ("eq", "ne") and not isinstance(v, Scalar):
            raise ValueError(f"{op} needs a single value (string, number or boolean)")
        if op in ("in", "not_in") and not (
            isinstance(v, list) and v and all(isinstance(x, Scalar) for x in v)
        ):
            raise ValueError(f"{op} needs a non-empty list of values")
        if op in ("gte", "lte") and not _orderable(v):
            raise ValueError(f"{op} needs a number or an ISO date")
        if op == "between":
            if not (isinstance(v, list) and len(v) == 2 and all(_orderable(x) for x in v)):
                raise ValueError("between needs [low, high], both numbers or both ISO dates")
            lo, hi = v
            if _is_number(lo) != _is_number(hi):
                raise ValueError("between needs both bounds of the same kind")
            if (lo > hi) if _is_number(lo) else (_as_date(lo) > _as_date(hi)):  # type: ignore[operator]
                raise ValueError("between needs low <= high")
        if op == "within_days" and not (
            isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_WITHIN_DAYS
        ):
            raise ValueError(f"within_days needs a whole number of days, 0 to {MAX_WITHIN_DAYS}")
        if op in PERSON_OPS and not (
            isinstance(v, list) and v and all(isinstance(x, str) and x for x in v)
        ):
            raise ValueError(f"{op} needs a non-empty list of ids")
        if isinstance(v, list) and len(v) > MAX_LIST:
            raise ValueError(f"at most {MAX_LIST} values")
        return self


_CONDITIONS = TypeAdapter(list[Condition])


def parse_filter(raw: Any) -> list[Condition]:
    """Validate a stored or submitted filter; raises FilterError naming the bad condition."""
    if not isinstance(raw, list):
        raise FilterError(None, "a filter is a list of conditions")
    if len(raw) > MAX_CONDITIONS:
        raise FilterError(None, f"at most {MAX_CONDITIONS} conditions")
    try:
        return _CONDITIONS.validate_python(raw)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        loc = err["loc"]
        index = loc[0] if loc and isinstance(loc[0], int) else None
        rest = ".".join(str(p) for p in loc[1:]) if index is not None else ""
        msg = err["msg"].removeprefix("Value error, ")
        raise FilterError(index, f"{rest + ': ' if rest else ''}{msg}") from exc


@dataclass(frozen=True)
class Person:
    roles: frozenset[str] = frozenset()
    company_id: str | None = None


@dataclass
class MatchContext:
    event_time: datetime
    people: Mapping[str, Person] = field(default_factory=dict)


def _people_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [x for x in value if isinstance(x, str)]
    return []


def people_mentioned(conditions: Iterable[Condition], attributes: Mapping[str, Any]) -> set[str]:
    """User ids the role/company conditions need from the directory."""
    wanted: set[str] = set()
    for cond in conditions:
        if cond.op in ("roles_any", "companies_any"):
            wanted.update(_people_in(attributes.get(cond.field)))
    return wanted


def _compare(attr: Any, bound: Any) -> int | None:
    """-1/0/1 comparing attr with bound (numbers, or dates); None if not comparable."""
    if _is_number(bound):
        if not _is_number(attr):
            return None
        return int(attr > bound) - int(attr < bound)
    a, b = _as_date(attr), _as_date(bound)
    if a is None or b is None:
        return None
    return (a > b) - (a < b)


def holds(cond: Condition, attributes: Mapping[str, Any], ctx: MatchContext) -> bool:
    present = cond.field in attributes
    attr = attributes.get(cond.field)
    op, v = cond.op, cond.value
    if op == "eq":
        return present and _same(attr, v)
    if op == "ne":
        return not _same(attr, v)
    if op == "in":
        return present and _among(attr, v)
    if op == "not_in":
        return not _among(attr, v)
    if op == "gte":
        c = _compare(attr, v)
        return c is not None and c >= 0
    if op == "lte":
        c = _compare(attr, v)
        return c is not None and c <= 0
    if op == "between":
        lo, hi = _compare(attr, v[0]), _compare(attr, v[1])
        return lo is not None and hi is not None and lo >= 0 and hi <= 0
    if op == "within_days":
        day = _as_date(attr)
        return day is not None and abs((day - ctx.event_time.date()).days) <= v
    people = _people_in(attr)
    if op == "users_any":
        return bool(set(people) & set(v))
    if op == "roles_any":
        return any(ctx.people.get(p, Person()).roles & set(v) for p in people)
    return any(ctx.people.get(p, Person()).company_id in v for p in people)  # companies_any


def matches(
    conditions: Sequence[Condition], attributes: Mapping[str, Any], ctx: MatchContext
) -> bool:
    return all(holds(c, attributes, ctx) for c in conditions)
