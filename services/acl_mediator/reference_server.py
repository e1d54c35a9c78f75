"""``herald acl-reference``: the reference module backend as a process of its own, on Herald's
database (``HeraldDirectory``). compose.yaml runs it so that a deployment answers permission
checks out of the box; it stands in for the modules' own endpoints (docs/permissions.md) and
is meant to be replaced by them."""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import Field

from libs.common.runtime.settings import DatabaseSettings
from services.acl_mediator.reference_backend import create_reference_app
from services.acl_mediator.reference_data import HeraldDirectory

REFERENCE_PORT = 8005  # the same as `herald dev`'s


class ReferenceSettings(DatabaseSettings):
    acl_reference_token: str | None = Field(
        default=None,
        min_length=16,
        description="calls must carry `Authorization: Bearer <token>` (the mediator's "
        "auth_header for these modules)",
    )


def reference_app(settings: ReferenceSettings) -> FastAPI:
    return create_reference_app(
        HeraldDirectory(settings.database_url), settings.acl_reference_token
    )
