"""Property: the processor's matcher and the subscription preview agree on every filter and
event (hypothesis). Each side runs its own code path minus the database: the processor
compiles the filter as it is stored (validated, normalized, through JSON as jsonb returns it)
and evaluates in two passes with the subscriber's zone; the preview validates the submitted
filter and evaluates the stored event body read by its own ``_subject``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from libs.common.db.models import Event
from libs.common.schemas.envelope import EventEnvelope
from libs.common.subscriptions.filter_match import compile_conditions
from libs.common.subscriptions.filter_subject import Subject
from libs.common.subscriptions.filters import FilterError, Person, parse_filter, stored_filter
from services.ingest.user_api.preview import _subject
from services.processor.matching import _candidate, first_pass, second_pass

BASE = datetime(2026, 11, 26, 10, tzinfo=UTC)
ZONES = [ZoneInfo(z) for z in ("Europe/Moscow", "America/New_York", "Asia/Kolkata", "UTC")]
FIELDS = ["a", "b", "c.d"]
USERS = ["u-1", "u-2", "u-3"]
PEOPLE = {
    "u-1": Person(frozenset({"designer"}), "c-1"),
    "u-2": Person(frozenset({"installer", "designer"}), "c-2"),
}

days = st.integers(-40, 40)
dates = days.map(lambda d: (BASE + timedelta(days=d)).date().isoformat())
moments = st.builds(  # an ISO datetime with its zone, or without one (the user's local time)
    lambda d, m, zoned: (BASE + timedelta(days=d, minutes=m)).isoformat()[: None if zoned else 19],
    days, st.integers(-1440, 1440), st.booleans(),
)  # fmt: skip
numbers = st.one_of(
    st.integers(-10, 10), st.floats(-10, 10, allow_nan=False), st.integers(-10, 10).map(str)
)
scalars = st.one_of(numbers, st.sampled_from(["x", "y", "7", "basement"]), st.booleans())
values = st.one_of(scalars, dates, moments, st.lists(st.sampled_from(USERS), max_size=3))


def _condition(field: str, op: str, value: Any) -> dict[str, Any]:
    return {"field": field, "op": op, "value": value}


conditions = st.one_of(
    st.builds(_condition, st.sampled_from(FIELDS), st.sampled_from(["eq", "ne"]), scalars),
    st.builds(_condition, st.sampled_from(FIELDS), st.sampled_from(["in", "not_in"]),
              st.lists(scalars, min_size=1, max_size=3)),
    st.builds(_condition, st.sampled_from(FIELDS), st.sampled_from(["gte", "lte"]),
              st.one_of(numbers, dates, moments)),
    st.builds(_condition, st.sampled_from(FIELDS), st.just("between"),
              st.one_of(st.lists(numbers, min_size=2, max_size=2),
                        st.lists(st.one_of(dates, moments), min_size=2, max_size=2))),
    st.builds(_condition, st.sampled_from(FIELDS),
              st.sampled_from(["within_days", "due_within_days", "older_than_days"]),
              st.one_of(st.integers(0, 30), st.integers(0, 30).map(str))),
    st.builds(_condition, st.sampled_from(FIELDS), st.just("overdue"), st.booleans()),
    st.builds(_condition, st.sampled_from(FIELDS),
              st.sampled_from(["users_any", "roles_any", "companies_any"]),
              st.lists(st.sampled_from([*USERS, "designer", "installer", "c-1", "c-2"]),
                       min_size=1, max_size=2)),
)  # fmt: skip
attributes = st.fixed_dictionaries(
    {}, optional={"a": values, "b": values, "c": st.fixed_dictionaries({}, optional={"d": values})}
)


def _body(attrs: dict[str, Any], at: datetime) -> dict[str, Any]:
    body = {
        "id": "e-1",
        "source": "tenders",
        "type": "tender.changed",
        "project_id": "P-1",
        "entity": {"type": "tender", "id": "T-1", "attributes": attrs},
        "occurred_at": at.isoformat(),
    }
    back: dict[str, Any] = json.loads(json.dumps(body))  # as jsonb hands it back
    return back


def _processor(raw: list[dict[str, Any]], body: dict[str, Any], zone: ZoneInfo) -> bool:
    stored = json.loads(json.dumps(stored_filter(parse_filter(raw))))  # what the API saves
    cand = _candidate(1, "u-9", stored, ["browser"], [], None, BASE)
    assert cand is not None
    env = EventEnvelope.model_validate(body)
    subject = Subject.of(env, PEOPLE)
    passed = first_pass([cand], env.type, subject)
    return bool(second_pass(passed, subject, lambda _user: zone))


def _preview(raw: list[dict[str, Any]], body: dict[str, Any], zone: ZoneInfo) -> bool:
    compiled = compile_conditions(parse_filter(raw))
    subject = _subject(Event(body=body))
    assert subject is not None
    subject.people = PEOPLE
    return compiled.holds(subject, zone)


@settings(max_examples=600, deadline=None)
@given(
    raw=st.lists(conditions, min_size=1, max_size=3),
    attrs=attributes,
    shift=st.integers(-2880, 2880),
    zone=st.sampled_from(ZONES),
)
def test_the_matcher_and_the_preview_agree(
    raw: list[dict[str, Any]], attrs: dict[str, Any], shift: int, zone: ZoneInfo
) -> None:
    try:
        parse_filter(raw)
    except FilterError:
        return  # refused by both: 422 on save and on preview
    body = _body(attrs, BASE + timedelta(minutes=shift))
    assert _processor(raw, body, zone) == _preview(raw, body, zone)
