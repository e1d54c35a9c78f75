"""Producer JSON, bounded: the exact edges of each bound, and ingest's decode never raising
whatever text it is given."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from libs.common.runtime.errors import ValidationFailed
from libs.common.schemas.strict_json import MAX_DEPTH, MAX_INT_DIGITS, loads
from services.ingest.intake.decode import Accepted, Rejected, decode
from tests.unit.services.ingest.intake_support import make_event


def _nested(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


def _refusal(text: str | bytes, **kwargs: int) -> str:
    with pytest.raises(ValidationFailed) as err:
        loads(text, **kwargs)
    return err.value.reason


def test_each_bound_holds_exactly_at_its_edge() -> None:
    assert loads("9" * MAX_INT_DIGITS) == int("9" * MAX_INT_DIGITS)
    assert loads("-" + "9" * MAX_INT_DIGITS) == -int("9" * MAX_INT_DIGITS)
    assert _refusal("9" * (MAX_INT_DIGITS + 1)).startswith("out_of_range: an integer of 101")
    assert loads(_nested(MAX_DEPTH)) is not None
    assert _refusal(_nested(MAX_DEPTH + 1)).startswith("too_deep:")
    assert loads(_nested(MAX_DEPTH + 1).encode(), wrapping=1) is not None  # a batch's array
    assert _refusal(_nested(100_000)).startswith("too_deep:")  # past the parser's own limit
    assert loads("1.7976931348623157e308") == 1.7976931348623157e308
    assert loads("1e-400") == 0.0  # underflow loses nothing a producer could rely on
    assert _refusal("[1e309]") == "out_of_range: 1e309 does not fit a 64-bit float"
    assert _refusal("1" * 400 + ".5").endswith("… does not fit a 64-bit float")


def test_brackets_inside_strings_do_not_count_as_depth() -> None:
    text = json.dumps({"s": "[" * 1000, "t": "{" * 1000})
    assert loads(text) == {"s": "[" * 1000, "t": "{" * 1000}


@pytest.mark.parametrize("name", ["NaN", "Infinity", "-Infinity"])
def test_non_numbers_are_not_json(name: str) -> None:
    assert _refusal(f'{{"x": [{name}]}}') == f"not_json: {name} is not a JSON number (RFC 8259)"


_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=20,
).map(json.dumps)  # NaN and infinities come out as the literals NaN and Infinity
_LITERALS = st.sampled_from(["9" * 5000, "-1e400", '"\\u0000"', '"\\ud800"', "[", "{}"])
_FIELDS = st.sampled_from(["payload", "entity", "recipients", "occurred_at", "id", "tenant"])


@settings(max_examples=300, deadline=None)
@given(field=_FIELDS, raw=_VALUES | _LITERALS, depth=st.integers(0, 600))
def test_decode_never_raises(field: str, raw: str, depth: int) -> None:
    """Whatever a producer puts in any field, at any depth: accepted or rejected, never an
    exception (an exception in the consumer's callback was a poison message), and the reason
    is text PostgreSQL can store."""
    wrapped = "[" * depth + raw + "]" * depth
    event = {**make_event(), field: "__x__"}
    body = json.dumps(event).replace('"__x__"', wrapped).encode()
    outcome = decode(body, {})
    assert isinstance(outcome, Accepted | Rejected)
    if isinstance(outcome, Rejected):
        assert "\x00" not in outcome.reason
        outcome.reason.encode("utf-8")  # no lone surrogate
