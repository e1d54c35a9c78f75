"""The mediator's OpenAPI document, with the check body's schema that FastAPI cannot see."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from libs.common.schemas.permissions import CheckRequest


def openapi(app: FastAPI) -> dict[str, Any]:
    """The check body is parsed by hand (speed, size cap); publish its schema anyway."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
        body = CheckRequest.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(body.pop("$defs", {}))
        components["CheckRequest"] = body
        app.openapi_schema = schema
    return app.openapi_schema
