"""The permissions mediator's wire contracts (DESIGN §9).

Two contracts live here, so that both sides of each import the same models:

* callers ↔ mediator: ``CheckRequest`` / ``CheckResponse`` and ``InvalidateRequest``;
* mediator ↔ module backend: ``UpstreamRequest`` / ``UpstreamResponse`` (docs/permissions.md).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_BATCH = 1_000
UPSTREAM_CHECK_PATH = "/permissions/check"


class PermissionItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    module: str = Field(min_length=1, max_length=64, examples=["tenders"])
    project_id: str | None = Field(default=None, max_length=128, examples=["P-42"])
    object_type: str = Field(min_length=1, max_length=64, examples=["tender"])
    object_id: str = Field(min_length=1, max_length=128, examples=["T-1001"])
    user_id: str = Field(min_length=1, max_length=128, examples=["u-17"])


class PermissionAnswer(BaseModel):
    """``error`` set means denied because the answer could not be obtained (fail closed)."""

    read: bool = False
    write: bool = False
    error: str | None = None


class CheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: str = Field(default="default", min_length=1, max_length=128)
    items: list[PermissionItem] = Field(min_length=1, max_length=MAX_BATCH)


class CheckResponse(BaseModel):
    results: list[PermissionAnswer]


class InvalidateRequest(BaseModel):
    """Forget cached answers about one user, or about one object (optionally of one user)."""

    model_config = ConfigDict(extra="forbid")

    tenant: str = Field(default="default", min_length=1, max_length=128)
    user_id: str | None = Field(default=None, min_length=1, max_length=128)
    module: str | None = Field(default=None, min_length=1, max_length=64)
    object_type: str | None = Field(default=None, min_length=1, max_length=64)
    object_id: str | None = Field(default=None, min_length=1, max_length=128)

    @model_validator(mode="after")
    def _user_or_object(self) -> InvalidateRequest:
        object_parts = (self.module, self.object_type, self.object_id)
        if any(object_parts) and not all(object_parts):
            raise ValueError("an object is named by module, object_type and object_id together")
        if self.user_id is None and not all(object_parts):
            raise ValueError("name a user_id, an object (module, object_type, object_id), or both")
        return self


class InvalidateResponse(BaseModel):
    removed: int


# --- mediator → module backend: POST <base_url>/permissions/check -------------------------


class UpstreamItem(BaseModel):
    """One question to a module; ``id`` is echoed back so answers never pair up by position."""

    id: int = Field(ge=0)
    project_id: str | None = None
    object_type: str
    object_id: str
    user_id: str


class UpstreamRequest(BaseModel):
    tenant: str
    module: str
    items: list[UpstreamItem]


class UpstreamAnswer(BaseModel):
    model_config = ConfigDict(strict=True)

    id: int
    read: bool
    write: bool
    error: str | None = None


class UpstreamResponse(BaseModel):
    results: list[UpstreamAnswer]
