"""The permissions mediator's wire contract (DESIGN §9), shared by the server and its client."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MAX_BATCH = 1_000


class PermissionItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    module: str = Field(min_length=1, max_length=64, examples=["tenders"])
    project_id: str | None = Field(default=None, max_length=128, examples=["P-42"])
    object_type: str = Field(min_length=1, max_length=64, examples=["tender"])
    object_id: str = Field(min_length=1, max_length=128, examples=["T-1001"])
    user_id: str = Field(min_length=1, max_length=128, examples=["u-17"])


class PermissionAnswer(BaseModel):
    read: bool = False
    write: bool = False
    error: str | None = None


class CheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: str = Field(default="default", min_length=1, max_length=128)
    items: list[PermissionItem] = Field(min_length=1, max_length=MAX_BATCH)


class CheckResponse(BaseModel):
    results: list[PermissionAnswer]
