"""Reading and validating a ``POST /v1/events`` body: one event or a batch of up to 500, each
checked like on AMQP; the answer to a bad body is a 413 or a 422 naming every bad field.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import HTTPException, Request, status
from pydantic import ValidationError

from libs.common.runtime.errors import ValidationFailed
from libs.common.schemas import strict_json
from libs.common.schemas.envelope import (
    DEFAULT_MAX_RECIPIENTS,
    MAX_EVENT_BYTES,
    EventEnvelope,
    check_recipient_cap,
)
from services.ingest.intake.decode import Accepted, check_storable
from services.ingest.intake.event_bytes import item_sizes

MAX_BATCH = 500
MAX_REQUEST_BYTES = 16 * MAX_EVENT_BYTES  # a batch of 500 ordinary events fits many times over
MAX_ERRORS = 50  # enough to fix a batch; bounded so a bad batch cannot echo megabytes back


async def read_limited(request: Request) -> bytes:
    """Refuse a body over the limit before and while reading it, never after buffering it."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
        raise too_large(f"request body of {declared} bytes exceeds {MAX_REQUEST_BYTES}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            raise too_large(f"request body exceeds {MAX_REQUEST_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_items(raw: bytes, max_recipients: int = DEFAULT_MAX_RECIPIENTS) -> list[Accepted]:
    """Decode and validate every event; 422 listing each bad field of each bad event."""
    parsed = _load(raw)
    batch = isinstance(parsed, list)
    items = parsed if batch else [parsed]
    if not 1 <= len(items) <= MAX_BATCH:
        raise invalid([problem(["body"], f"send 1 to {MAX_BATCH} events", "batch_size")])
    accepted, problems = [], []
    for index, (item, size) in enumerate(zip(items, item_sizes(raw), strict=True)):
        loc: list[str | int] = ["body", index] if batch else ["body"]
        if strict_json.deeper_than(item, strict_json.MAX_DEPTH):
            problems.append(_refused(loc, strict_json.too_deep()))
            continue
        if size > MAX_EVENT_BYTES:  # the bytes sent, as on AMQP (event_bytes.py)
            raise too_large(f"event {index} of {size} bytes exceeds {MAX_EVENT_BYTES}")
        try:
            accepted.append(_validate(item, raw, max_recipients))
        except _ItemInvalid as exc:
            problems += [{**p, "loc": loc + p["loc"]} for p in exc.problems]
    if problems:
        raise invalid(problems)
    return accepted


def _load(raw: bytes) -> Any:
    """The JSON body, or a 422: malformed, or refused like on AMQP (NaN, 1e400, 5,000-digit
    integers, nesting past the bound — one level more here, for a batch's array)."""
    try:
        return strict_json.loads(raw, wrapping=1)
    except ValidationFailed as exc:
        raise invalid([_refused(["body"], exc)]) from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise invalid([problem(["body"], f"not JSON: {exc}", "not_json")]) from exc


def _refused(loc: list[str | int], exc: ValidationFailed) -> dict[str, Any]:
    """A refusal in ingest's own terms: its input class (``too_deep``…) is the type."""
    return problem(loc, exc.reason, exc.reason.split(":", 1)[0])


class _ItemInvalid(Exception):
    def __init__(self, problems: list[dict[str, Any]]) -> None:
        self.problems = problems


def _validate(item: object, raw: bytes, max_recipients: int) -> Accepted:
    if not isinstance(item, dict):
        raise _ItemInvalid([problem([], "expected a JSON object", "not_object")])
    try:
        envelope = EventEnvelope.model_validate(item)
        check_storable(raw, item)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise _ItemInvalid([problem(list(e["loc"]), e["msg"], e["type"]) for e in errors]) from exc
    except ValidationFailed as exc:
        raise _ItemInvalid([problem([], exc.reason, "unstorable")]) from exc
    try:
        check_recipient_cap(item, max_recipients)
    except ValidationFailed as exc:
        raise _ItemInvalid([problem(["recipients"], exc.reason, "too_many_recipients")]) from exc
    return Accepted(envelope, item)


def problem(loc: list[Any], msg: str, kind: str) -> dict[str, Any]:
    return {"loc": loc, "msg": msg, "type": kind}


def invalid(problems: list[dict[str, Any]]) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, problems[:MAX_ERRORS])


def too_large(message: str) -> HTTPException:
    return HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, message)
