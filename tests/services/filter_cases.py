"""One event and the filter cases that must (not) match it: run through the real processor
(tests/services/processor/test_filter_pipeline.py) and the real preview
(tests/services/ingest/test_user_api_filter_cases.py), so both answer the same."""

from __future__ import annotations

from typing import Any

from tests.services.processor.support import event

# The event happened 2026-11-26 10:00 UTC; the deadline is 5 days later.
ATTRIBUTES: dict[str, Any] = {
    "section": "basement",
    "amount": 2_000_000,
    "deadline": "2026-12-01",
    "responsible": ["u-40"],
    "location": {"building": "B1", "floor": {"level": -1, "name": "basement"}},
}
PAYLOAD: dict[str, Any] = {"title": "Add fire-safety certificate", "change": {"by": "u-7"}}
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
