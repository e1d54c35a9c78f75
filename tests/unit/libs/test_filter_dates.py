"""Dates that mean what people say, and the coercion rules, in validation and evaluation."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from libs.common.subscriptions.filter_match import matches
from libs.common.subscriptions.filter_subject import Subject
from libs.common.subscriptions.filters import (
    FilterError,
    as_number,
    as_when,
    parse_filter,
    stored_filter,
)

NOW = datetime(2026, 11, 26, 10, tzinfo=UTC)  # 13:00 in Moscow
MOSCOW, NEW_YORK = ZoneInfo("Europe/Moscow"), ZoneInfo("America/New_York")


def holds(
    cond: dict[str, Any], attrs: dict[str, Any], now: datetime = NOW, zone: Any = MOSCOW
) -> bool:
    return matches(parse_filter([cond]), Subject(attrs, {}, {}, now, {}), zone)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (5, 5), (2.5, 2.5), ("2500000", 2_500_000), (" -3.5 ", -3.5), ("1e6", 1e6), (".5", 0.5),
        (True, None), ("1_000", None), ("0x10", None), ("nan", None), ("inf", None),
        ("1e400", None), ("", None), ("12 apples", None), ([1], None), (None, None),
    ],
)  # fmt: skip
def test_what_a_number_is(value: Any, expected: Any) -> None:
    assert as_number(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-05", date(2026, 12, 5)),
        ("2026-12-05T18:00:00+03:00", datetime(2026, 12, 5, 15, tzinfo=UTC)),
        ("2026-12-05T18:00:00Z", datetime(2026, 12, 5, 18, tzinfo=UTC)),
        ("2026-12-05T18:00", datetime(2026, 12, 5, 18)),  # local: no zone
        ("20261205", None),  # digits are a number, never a date
        ("2026-13-05", None),
        ("soon", None),
        (20261205, None),
    ],
)
def test_what_a_date_is(value: Any, expected: Any) -> None:
    assert as_when(value) == expected


@pytest.mark.parametrize(
    ("deadline", "op", "value", "expected"),
    [
        ("2026-11-26", "due_within_days", 0, True),  # due today is not overdue
        ("2026-12-03", "due_within_days", 7, True),
        ("2026-12-04", "due_within_days", 7, False),
        ("2026-11-25", "due_within_days", 7, False),  # overdue: not "due soon"
        ("2026-11-26T09:59:00Z", "due_within_days", 7, False),  # a passed moment
        ("2026-11-26T10:01:00Z", "due_within_days", 0, True),
        ("2026-11-25", "within_days", 7, True),  # within_days looks both ways, as documented
        ("2026-11-25", "overdue", True, True),
        ("2026-11-26", "overdue", True, False),
        ("2026-11-26T09:59:00Z", "overdue", True, True),
        ("2026-11-26T09:59:00Z", "overdue", False, False),
        ("2026-10-27", "older_than_days", 30, False),  # exactly 30 days: not more than 30
        ("2026-10-27", "older_than_days", 29, True),
        ("2026-12-26", "older_than_days", 0, False),
    ],
)
def test_date_operators(deadline: str, op: str, value: Any, expected: bool) -> None:
    assert holds({"field": "d", "op": op, "value": value}, {"d": deadline}) is expected


def test_today_is_the_users_today() -> None:
    late = datetime(2026, 11, 26, 22, 30, tzinfo=UTC)  # 01:30 on the 27th in Moscow
    cond = {"field": "d", "op": "overdue"}
    assert holds(cond, {"d": "2026-11-26"}, late, MOSCOW)
    assert not holds(cond, {"d": "2026-11-26"}, late, NEW_YORK)
    moment = {"d": "2026-11-27T00:30:00+03:00"}  # 21:30 UTC on the 26th: past everywhere
    assert holds(cond, moment, late, NEW_YORK)
    naive = {"d": "2026-11-26T23:00:00"}  # 23:00 local: past in Moscow, ahead in New York
    assert holds(cond, naive, late, MOSCOW)
    assert not holds(cond, naive, late, NEW_YORK)


def test_a_moment_against_a_day_compares_days_in_the_users_zone() -> None:
    cond = {"field": "d", "op": "lte", "value": "2026-11-26"}
    moment = {"d": "2026-11-26T22:30:00Z"}  # the 27th in Moscow, the 26th in New York
    assert not holds(cond, moment, zone=MOSCOW)
    assert holds(cond, moment, zone=NEW_YORK)


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ({"field": "a", "op": "gte", "value": "1500000"}, 1_500_000),
        ({"field": "a", "op": "between", "value": ["1", "2.5"]}, [1, 2.5]),
        ({"field": "a", "op": "lte", "value": "2026-12-01"}, "2026-12-01"),
        ({"field": "a", "op": "due_within_days", "value": "7"}, 7),
        ({"field": "a", "op": "older_than_days", "value": 7.0}, 7),
        ({"field": "a", "op": "overdue"}, True),
        ({"field": "a", "op": "eq", "value": "7"}, "7"),  # eq keeps a string a string
    ],
)
def test_values_are_stored_coerced_by_the_same_rules(raw: dict[str, Any], stored: Any) -> None:
    assert stored_filter(parse_filter([raw]))[0]["value"] == stored


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"field": "a", "op": "due_within_days", "value": 7.5}, "whole number"),
        ({"field": "a", "op": "older_than_days", "value": -1}, "whole number"),
        ({"field": "a", "op": "within_days", "value": True}, "whole number"),
        ({"field": "a", "op": "overdue", "value": "yes"}, "overdue needs true"),
        ({"field": "a", "op": "gte", "value": "1e400"}, "number or an ISO date"),
        ({"field": "a", "op": "between", "value": ["3", 1]}, "low <= high"),
        ({"field": "a", "op": "between", "value": ["2026-12-02", "2026-12-01T23:00Z"]}, "low <="),
        ({"field": "a", "op": "eq"}, "single value"),
    ],
)
def test_values_the_rules_cannot_read_are_refused(raw: dict[str, Any], fragment: str) -> None:
    with pytest.raises(FilterError, match=fragment):
        parse_filter([raw])
