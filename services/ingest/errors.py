"""One JSON error shape for every route of the ingest app.

``{"error": {"code": "not_found", "message": "notification 7 not found", "details": null}}``

``code`` is stable and machine-readable (derived from the status), ``message`` is for humans,
``details`` carries structure when there is some (validation errors, the bad filter condition).
A database or broker outage answers 503 with ``Retry-After`` instead of a bare 500, so clients
back off rather than log the user out or show "something went wrong".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from libs.common.runtime.errors import TransientError

log = logging.getLogger("herald.ingest.errors")

RETRY_AFTER_S = 5  # a database failover or broker restart usually settles within seconds
MAX_VALIDATION_ERRORS = 20  # enough to fix a request; bounded so a huge body can't echo back

CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
    500: "internal",
    503: "unavailable",
}

UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    TransientError,
    OSError,  # asyncpg surfaces a refused or reset connection as an OSError
    TimeoutError,
)


class ErrorBody(BaseModel):
    code: str = Field(examples=["not_found"], description="stable, machine-readable")
    message: str = Field(examples=["notification 42 not found"])
    details: Any = Field(default=None, description="structured context, e.g. validation errors")


class ErrorResponse(BaseModel):
    """The body of every non-2xx answer."""

    error: ErrorBody


class ApiError(Exception):
    """Raised by handlers and logic for an answer with a chosen code and details."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        headers: Mapping[str, str] | None = None,  # e.g. Retry-After with a 429
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or CODES.get(status, "error")
        self.message = message
        self.details = details
        self.headers = headers


def error_response(
    status: int,
    message: str,
    *,
    code: str | None = None,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorResponse(
        error=ErrorBody(code=code or CODES.get(status, "error"), message=message, details=details)
    )
    return JSONResponse(
        jsonable_encoder(body), status_code=status, headers=dict(headers) if headers else None
    )


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(
        exc.status, exc.message, code=exc.code, details=exc.details, headers=exc.headers
    )


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail
    if isinstance(detail, str):
        message, details = detail, None
    else:  # a list of problems (POST /v1/events) or a dict: keep it as structure
        message, details = _summary(exc.status_code, detail), jsonable_encoder(detail)
    return error_response(exc.status_code, message, details=details, headers=exc.headers)


def _summary(status: int, detail: Any) -> str:
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        first = detail[0]
        loc = ".".join(str(p) for p in first.get("loc", []))
        return f"{loc}: {first.get('msg', 'invalid')}" if loc else str(first.get("msg"))
    return CODES.get(status, "error").replace("_", " ")


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # no "input": it may echo a secret or a megabyte of body back
    problems = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
        for e in exc.errors()[:MAX_VALIDATION_ERRORS]
    ]
    message = _summary(422, problems) if problems else "invalid request"
    return error_response(422, message, details=problems)


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("dependency unavailable on %s: %s", request.url.path, repr(exc)[:300])
    return error_response(
        503,
        "a backing service is unavailable; retry shortly",
        headers={"Retry-After": str(RETRY_AFTER_S)},
    )


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error on %s", request.url.path, exc_info=exc)
    return error_response(500, "internal error")


def install_error_handlers(app: FastAPI) -> None:
    """Every error the app can produce leaves in the ``ErrorResponse`` shape."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    for exc_type in UNAVAILABLE_ERRORS:
        app.add_exception_handler(exc_type, _unavailable)
    app.add_exception_handler(Exception, _unexpected)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries documenting the error shape for these statuses."""
    return {
        status: {"model": ErrorResponse, "description": CODES.get(status, "error")}
        for status in statuses
    }
