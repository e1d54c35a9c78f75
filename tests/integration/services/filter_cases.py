"""One event and the filter cases that must (not) match it: run through the real processor
(tests/integration/services/processor/test_filter_pipeline.py) and the real preview
(tests/integration/services/ingest/test_user_api_filter_cases.py), so both answer the same."""

from __future__ import annotations

from typing import Any

from tests.integration.services.processor.support import event

# The event happened 2026-11-26 10:00 UTC (13:00 in Moscow, every subscriber's zone here: the
# directory's default); the deadline is 5 days later.
ATTRIBUTES: dict[str, Any] = {
    "section": "basement",
    "amount": 2_000_000,
    "deadline": "2026-12-01",
    "responsible": ["u-40"],
    "location": {"building": "B1", "floor": {"level": -1, "name": "basement"}},
    "amount_text": "2500000",  # a number sent as a string
    "due_at": "2026-11-26T09:00:00Z",  # a moment an hour before the event: overdue
    "created": "2026-10-01",
    "starts": "2026-11-26T12:00:00",  # no zone: the subscriber's local time (09:00 UTC)
}
PAYLOAD: dict[str, Any] = {
    "title": "Add fire-safety certificate",
    "change": {"by": "u-7"},
    "at": "2026-11-26T10:00:00Z",
}
BODY = event(
    type="tender.requirement_added",
    entity={"type": "tender", "id": "T-1", "attributes": ATTRIBUTES},
    payload=PAYLOAD,
    recipients={},
)
# u-40, the responsible person, is a designer at company c-5 (known only from the directory)
PEOPLE: dict[str, dict[str, Any]] = {"u-40": {"roles": ["designer"], "company_id": "c-5"}}


def c(field: str, op: str, value: Any, scope: str | None = None) -> dict[str, Any]:
    cond = {"field": field, "op": op, "value": value}
    return cond if scope is None else {"in": scope, **cond}


# (name, filter, fires)
CASES: list[tuple[str, list[dict[str, Any]], bool]] = [
    ("eq", [c("section", "eq", "basement")], True),
    ("eq other", [c("section", "eq", "roof")], False),
    ("ne", [c("section", "ne", "basement")], False),
    ("in", [c("section", "in", ["roof", "basement"])], True),
    ("not_in", [c("section", "not_in", ["basement"])], False),
    ("gte", [c("amount", "gte", 1_000_000)], True),
    ("lte", [c("amount", "lte", 1_000_000)], False),
    ("between", [c("amount", "between", [1e6, 5e6])], True),
    ("date gte", [c("deadline", "gte", "2026-12-01")], True),
    ("date lte", [c("deadline", "lte", "2026-11-30")], False),
    ("date between", [c("deadline", "between", ["2026-11-01", "2026-12-31"])], True),
    ("within_days", [c("deadline", "within_days", 7)], True),
    ("within_days short", [c("deadline", "within_days", 3)], False),
    ("users_any", [c("responsible", "users_any", ["u-40"])], True),
    ("users_any other", [c("responsible", "users_any", ["u-41"])], False),
    ("roles_any", [c("responsible", "roles_any", ["designer"])], True),
    ("roles_any other", [c("responsible", "roles_any", ["installer"])], False),
    ("companies_any", [c("responsible", "companies_any", ["c-5"])], True),
    ("companies_any other", [c("responsible", "companies_any", ["c-6"])], False),
    # where a condition looks
    ("dotted", [c("location.floor.level", "lte", -1)], True),
    ("dotted name", [c("location.floor.name", "eq", "basement")], True),
    ("dotted missing", [c("location.room.name", "eq", "basement")], False),
    ("dotted through a value", [c("section.name", "eq", "basement")], False),
    ("attributes explicit", [c("section", "eq", "basement", "attributes")], True),
    ("payload", [c("title", "eq", "Add fire-safety certificate", "payload")], True),
    ("payload dotted", [c("change.by", "users_any", ["u-7"], "payload")], True),
    ("payload is not attributes", [c("section", "eq", "basement", "payload")], False),
    ("event type", [c("type", "eq", "tender.requirement_added", "event")], True),
    ("event type other", [c("type", "in", ["tender.closed"], "event")], False),
    ("event priority", [c("priority", "ne", "low", "event")], True),
    ("event actor", [c("actor.id", "eq", "u-7", "event")], True),
    ("event project", [c("project_id", "eq", "P-43", "event")], False),
    ("event entity id", [c("entity.id", "eq", "T-1", "event")], True),
    # coercion: numbers sent as strings are numbers wherever a number is asked for
    ("numeric string gte", [c("amount_text", "gte", 1_000_000)], True),
    ("numeric string between", [c("amount_text", "between", [2e6, 3e6])], True),
    ("numeric string eq a number", [c("amount_text", "eq", 2_500_000)], True),
    ("numeric string in numbers", [c("amount_text", "in", [1, 2_500_000.0])], True),
    ("a string value stays a string", [c("amount", "eq", "2000000")], False),
    ("a numeric string bound", [c("amount", "gte", "1500000")], True),
    ("a day count as a string", [c("deadline", "due_within_days", "7")], True),
    # dates that mean what people say
    ("due_within_days", [c("deadline", "due_within_days", 7)], True),
    ("due_within_days short", [c("deadline", "due_within_days", 4)], False),
    ("due soon is not overdue", [c("due_at", "due_within_days", 7)], False),
    ("within_days looks back too", [c("due_at", "within_days", 0)], True),
    ("overdue moment", [c("due_at", "overdue", True)], True),
    ("overdue without a value", [{"field": "due_at", "op": "overdue"}], True),
    ("not overdue", [c("deadline", "overdue", False)], True),
    ("overdue day", [c("deadline", "overdue", True)], False),
    ("overdue of nothing", [c("section", "overdue", False)], False),
    ("older_than_days", [c("created", "older_than_days", 30)], True),
    ("older_than_days long", [c("created", "older_than_days", 60)], False),
    ("a moment against a day", [c("due_at", "lte", "2026-11-26")], True),
    ("a local time is local", [c("starts", "gte", "2026-11-26T11:00:00+03:00")], True),
    ("a local time is not UTC", [c("starts", "gte", "2026-11-26T10:00:00Z")], False),
    ("payload date", [c("at", "older_than_days", 1, "payload")], False),
    (
        "all of them",
        [
            c("section", "eq", "basement"),
            c("deadline", "within_days", 7),
            c("responsible", "roles_any", ["designer"]),
            c("priority", "eq", "normal", "event"),
        ],
        True,
    ),
]
