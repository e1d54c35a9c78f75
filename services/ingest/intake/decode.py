"""Turn one incoming message into an accepted event or a rejected one, with a precise reason.

The envelope contract (``parse_envelope``) names the input class; on top of it ingest refuses
what the database could never store, so such a message becomes a ``rejected`` row instead of a
poison message that fails forever: PostgreSQL ``jsonb`` has no NUL character and no lone
UTF-16 surrogate.

``decode`` never raises: a message whose decoding raised left the consumer's callback without
settling it, so it held a prefetch slot until the channel died (200 of them stopped intake).
A check that fails on input nobody foresaw stores the message as ``undecodable`` instead.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from libs.common.runtime.errors import ValidationFailed
from libs.common.schemas.envelope import (
    DEFAULT_MAX_RECIPIENTS,
    EventEnvelope,
    check_recipient_cap,
    parse_envelope,
)

# Cheap byte probes; the exact (slower) check only runs when one of them hits.
_NUL_ESCAPE = b"\\u0000"
_SURROGATE_ESCAPES = (b"\\ud", b"\\uD")  # also hits valid pairs (emoji); those pass
MAX_REASON_CHARS = 2000  # a reason names the problem; the raw bytes are kept beside it

log = logging.getLogger("herald.ingest.decode")


@dataclass(frozen=True)
class Accepted:
    envelope: EventEnvelope
    body: dict[str, Any]


@dataclass(frozen=True)
class Rejected:
    raw: bytes
    headers: dict[str, Any]
    reason: str
    # the tenants the input claims, first first (unchecked: rejected_tenant.py picks the row's)
    claims: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        """The input class, for the metric label: not_json, not_utf8, invalid, too_large…"""
        return self.reason.split(":", 1)[0]


Decoded = Accepted | Rejected


def decode(
    raw: bytes, headers: dict[str, Any], max_recipients: int = DEFAULT_MAX_RECIPIENTS
) -> Decoded:
    """Accepted or Rejected, whatever the bytes: this never raises."""
    try:
        envelope, body = parse_envelope(raw)
        check_storable(raw, body)
        check_recipient_cap(body, max_recipients)
    except ValidationFailed as exc:
        return Rejected(raw, headers, storable_reason(exc.reason))
    except Exception as exc:  # a bug in a check: still the producer's message, kept and named
        log.exception("decoding raised; stored as rejected: body=%r", raw[:2048])
        return Rejected(raw, headers, storable_reason(f"undecodable: {exc!r}"))
    return Accepted(envelope, body)


def storable_reason(reason: str) -> str:
    """A reason may quote the producer's own keys (``invalid: recipients.<key>: …``); PostgreSQL
    ``text`` holds neither NUL nor a lone surrogate, so those are escaped, and it is capped."""
    escaped = reason.replace("\x00", "\\u0000").encode("utf-8", "backslashreplace")
    return escaped.decode("utf-8")[:MAX_REASON_CHARS]


def check_storable(raw: bytes, body: dict[str, Any]) -> None:
    """Raise ValidationFailed when the body holds text PostgreSQL's jsonb cannot store."""
    if _NUL_ESCAPE in raw and _contains_nul(body):
        raise ValidationFailed("unstorable: a string contains the NUL character (\\u0000)")
    if any(p in raw for p in _SURROGATE_ESCAPES):
        try:
            json.dumps(body, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValidationFailed(
                "unstorable: a string contains a lone UTF-16 surrogate (\\ud800-\\udfff)"
            ) from exc


def _contains_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(k) or _contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_contains_nul(v) for v in value)
    return False
