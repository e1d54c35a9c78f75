"""Every operator of DESIGN §5.2, and validation naming the bad condition."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from libs.common.subscriptions.filter_match import matches
from libs.common.subscriptions.filter_subject import Subject
from libs.common.subscriptions.filters import FilterError, Person, parse_filter, stored_filter

NOW = datetime(2026, 11, 26, 10, tzinfo=UTC)
ATTRS = {
    "section": "basement",
    "amount": 2_000_000,
    "deadline": "2026-12-01",
    "responsible": ["u-17", "u-18"],
    "contractor": "u-40",
}
PEOPLE = {
    "u-17": Person(frozenset({"designer"}), "c-1"),
    "u-18": Person(frozenset({"engineer"}), "c-2"),
    "u-40": Person(frozenset({"installer"}), "c-5"),
}


def subject(
    attributes: dict[str, Any],
    people: dict[str, Person] | None = None,
    payload: dict[str, Any] | None = None,
    fields: dict[str, Any] | None = None,
) -> Subject:
    return Subject(attributes, payload or {}, fields or {}, NOW, people)


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        ({"field": "section", "op": "eq", "value": "basement"}, True),
        ({"field": "section", "op": "eq", "value": "roof"}, False),
        ({"field": "section", "op": "ne", "value": "roof"}, True),
        ({"field": "section", "op": "in", "value": ["roof", "basement"]}, True),
        ({"field": "section", "op": "not_in", "value": ["basement"]}, False),
        ({"field": "amount", "op": "gte", "value": 1_000_000}, True),
        ({"field": "amount", "op": "lte", "value": 1_000_000}, False),
        ({"field": "amount", "op": "between", "value": [1e6, 5e6]}, True),
        ({"field": "amount", "op": "between", "value": [3e6, 5e6]}, False),
        ({"field": "deadline", "op": "gte", "value": "2026-11-30"}, True),
        ({"field": "deadline", "op": "between", "value": ["2026-11-01", "2026-11-30"]}, False),
        ({"field": "deadline", "op": "within_days", "value": 7}, True),
        ({"field": "deadline", "op": "within_days", "value": 4}, False),
        ({"field": "responsible", "op": "users_any", "value": ["u-18"]}, True),
        ({"field": "responsible", "op": "users_any", "value": ["u-99"]}, False),
        ({"field": "responsible", "op": "roles_any", "value": ["designer"]}, True),
        ({"field": "responsible", "op": "roles_any", "value": ["installer"]}, False),
        ({"field": "contractor", "op": "roles_any", "value": ["installer"]}, True),
        ({"field": "contractor", "op": "companies_any", "value": ["c-5"]}, True),
        ({"field": "responsible", "op": "companies_any", "value": ["c-5"]}, False),
        ({"field": "missing", "op": "eq", "value": "x"}, False),
        ({"field": "missing", "op": "within_days", "value": 7}, False),
        ({"field": "section", "op": "gte", "value": 5}, False),
    ],
)
def test_operator(cond: dict[str, object], expected: bool) -> None:
    conditions = parse_filter([cond])
    assert matches(conditions, subject(ATTRS, PEOPLE)) is expected


def test_within_days_looks_both_ways() -> None:
    past = {"deadline": "2026-11-20"}
    assert matches(
        parse_filter([{"field": "deadline", "op": "within_days", "value": 7}]), subject(past)
    )


def test_all_conditions_must_hold() -> None:
    conds = parse_filter(
        [
            {"field": "section", "op": "eq", "value": "basement"},
            {"field": "responsible", "op": "roles_any", "value": ["installer"]},
        ]
    )
    assert not matches(conds, subject(ATTRS, PEOPLE))


def test_person_operators_read_the_people_the_subject_holds_now() -> None:
    """A subject keeps what it read of the people for the event (one read for ~120 candidates);
    the processor sets the event's project's people after building it: roles and companies
    read before must not survive the change, and one person's role must not stand for
    another's."""
    s = subject(ATTRS, {})
    designers = parse_filter([{"field": "responsible", "op": "roles_any", "value": ["designer"]}])
    company = parse_filter([{"field": "contractor", "op": "companies_any", "value": ["c-5"]}])
    assert not matches(designers, s) and not matches(company, s)
    s.people = PEOPLE
    assert matches(designers, s) and matches(company, s)
    s.people = {"u-18": Person(frozenset({"designer"}), None)}
    assert matches(designers, s) and not matches(company, s)
    s.people = {"u-99": Person(frozenset({"designer"}), "c-5")}  # not named by the event
    assert not matches(designers, s) and not matches(company, s)


@pytest.mark.parametrize(
    ("raw", "index", "fragment"),
    [
        ([{"field": "a", "op": "like", "value": 1}], 0, "op"),
        (
            [{"field": "a", "op": "eq", "value": 1}, {"field": "b", "op": "in", "value": 3}],
            1,
            "non-empty list",
        ),
        # "7" is a number by the coercion rules (test_filter_dates.py); "soon" is not
        ([{"field": "d", "op": "within_days", "value": "soon"}], 0, "whole number"),
        ([{"field": "a", "op": "between", "value": [5, 1]}], 0, "low <= high"),
        ([{"field": "a", "op": "between", "value": [1, "2026-01-01"]}], 0, "same kind"),
        ([{"field": "a", "op": "gte", "value": "soon"}], 0, "ISO date"),
        ([{"field": "r", "op": "roles_any", "value": []}], 0, "non-empty"),
        ([{"field": "a", "op": "eq", "value": 1, "extra": 2}], 0, "extra"),
        ([{"in": "entity", "field": "a", "op": "eq", "value": 1}], 0, "in"),
        ([{"in": "event", "field": "tenant", "op": "eq", "value": "x"}], 0, "no field 'tenant'"),
        ([{"field": "a..b", "op": "eq", "value": 1}], 0, "dotted path"),
        ([{"field": ".".join("abcdefghi"), "op": "eq", "value": 1}], 0, "at most 8 levels"),
    ],
)
def test_invalid_filters_name_the_condition(raw: object, index: int, fragment: str) -> None:
    with pytest.raises(FilterError) as err:
        parse_filter(raw)
    assert err.value.index == index
    assert fragment in str(err.value)


def test_not_a_list() -> None:
    with pytest.raises(FilterError, match="list of conditions"):
        parse_filter({"field": "a"})


NOT_FINITE = [float("nan"), float("inf"), float("-inf")]


@pytest.mark.parametrize("bad", NOT_FINITE)
@pytest.mark.parametrize(
    "make",
    [
        lambda x: {"field": "a", "op": "eq", "value": x},
        lambda x: {"field": "a", "op": "ne", "value": x},
        lambda x: {"field": "a", "op": "in", "value": [1, x]},
        lambda x: {"field": "a", "op": "not_in", "value": [x]},
        lambda x: {"field": "a", "op": "gte", "value": x},
        lambda x: {"field": "a", "op": "lte", "value": x},
        lambda x: {"field": "a", "op": "between", "value": [x, 5]},
        lambda x: {"field": "a", "op": "between", "value": [1, x]},
    ],
)
def test_nan_and_infinity_are_refused(make: Any, bad: float) -> None:
    """JSON's NaN/Infinity (and 1e400) would be stored as null and match nothing, silently."""
    with pytest.raises(FilterError) as err:
        parse_filter([{"field": "b", "op": "eq", "value": 1}, make(bad)])
    assert err.value.index == 1
    assert "finite" in str(err.value)


@pytest.mark.parametrize(
    ("op", "value", "attr", "expected"),
    [
        ("eq", 1, True, False),
        ("eq", True, 1, False),
        ("eq", 0, False, False),
        ("eq", False, 0, False),
        ("eq", 1, 1.0, True),  # numbers stay numbers
        ("eq", True, True, True),
        ("ne", 1, True, True),
        ("ne", True, 1, True),
        ("ne", False, False, False),
        ("in", [1, 2], True, False),
        ("in", [True], 1, False),
        ("in", [0, "x"], False, False),
        ("in", [True, 2], True, True),
        ("in", [2, 1], 1.0, True),
        ("not_in", [1], True, True),
        ("not_in", [True], 1, True),
        ("not_in", [False], False, False),
        ("gte", 1, True, False),
        ("lte", 1, False, False),
        ("between", [0, 1], True, False),
    ],
)
def test_booleans_are_not_numbers(op: str, value: Any, attr: Any, expected: bool) -> None:
    """In Python ``1 == True``; in a filter ``done eq 1`` must not match ``done: true``."""
    conditions = parse_filter([{"field": "f", "op": op, "value": value}])
    assert matches(conditions, subject({"f": attr})) is expected


def test_a_condition_is_stored_as_it_was_written() -> None:
    """``in`` is kept only when it is not the default: filters saved before it read alike."""
    raw = [
        {"field": "a.b", "op": "eq", "value": 1},
        {"in": "attributes", "field": "a", "op": "eq", "value": 1},
        {"in": "payload", "field": "x.y", "op": "eq", "value": 1},
    ]
    assert stored_filter(parse_filter(raw)) == [
        {"field": "a.b", "op": "eq", "value": 1},
        {"field": "a", "op": "eq", "value": 1},
        {"in": "payload", "field": "x.y", "op": "eq", "value": 1},
    ]


def test_the_event_scope_reads_envelope_fields_by_their_dotted_names() -> None:
    fields = {"actor.id": "u-7", "type": "remark.created"}
    s = subject({"actor": {"id": "u-8"}}, fields=fields)
    assert matches(
        parse_filter([{"in": "event", "field": "actor.id", "op": "eq", "value": "u-7"}]), s
    )
    assert matches(parse_filter([{"field": "actor.id", "op": "eq", "value": "u-8"}]), s)
