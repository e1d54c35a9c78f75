"""Who may emit what (DESIGN §3.1): every producer is a principal with scopes, sources and
tenants.

HTTP producers are API keys (``HERALD_API_KEYS``), AMQP producers are RabbitMQ users
(``HERALD_AMQP_PRODUCERS``); both map to the same object form::

    {"scopes": ["events"], "sources": ["tenders"], "tenants": ["default"]}

``"*"`` is allowed in each list. A string is shorthand: ``"*"`` is everything (Herald's own
services), ``"directory"`` is the directory of tenant ``default``, and any other name
(``"tenders"``) is events of that source in tenant ``default`` only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import parse_qs, unquote, urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

ANY = "*"
DEFAULT_TENANT = "default"
# Every event of this source is a directory update (the processor applies
# ``directory.user.updated`` to the recipients table), so it needs the directory scope.
DIRECTORY_SOURCE = "directory"


class Scope(StrEnum):
    EVENTS = "events"  # emit events of its sources
    DIRECTORY = "directory"  # PUT /v1/recipients and directory.* events
    PERMISSIONS = "permissions"  # ask the permissions mediator


_SCOPE_NAMES = frozenset(s.value for s in Scope) | {ANY}


class ServicePrincipal(BaseModel):
    """What one API key or broker user may do; ``name`` is for logs and rejection reasons."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(default="", max_length=128)
    scopes: frozenset[str] = Field(min_length=1)
    sources: frozenset[str] = frozenset()
    tenants: frozenset[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _known_scopes(self) -> ServicePrincipal:
        unknown = self.scopes - _SCOPE_NAMES
        if unknown:
            raise ValueError(f"unknown scopes {sorted(unknown)}; use {sorted(_SCOPE_NAMES)}")
        if self.has(Scope.EVENTS) and not self.sources:
            raise ValueError('the "events" scope needs "sources" (a list; "*" for any)')
        return self

    def has(self, scope: Scope) -> bool:
        return ANY in self.scopes or scope.value in self.scopes

    def covers_tenant(self, tenant: str) -> bool:
        return ANY in self.tenants or tenant in self.tenants

    def refusal(self, scope: Scope, tenant: str) -> str | None:
        """Why this principal may not act with ``scope`` in ``tenant``; None when it may."""
        if not self.has(scope):
            return f"{self.name} lacks the {scope.value!r} scope"
        if not self.covers_tenant(tenant):
            return f"{self.name} may not act in tenant {tenant!r}"
        return None

    def event_refusal(self, source: str, tenant: str) -> str | None:
        """Why this principal may not emit an event of ``source`` into ``tenant``."""
        if source == DIRECTORY_SOURCE:
            return self.refusal(Scope.DIRECTORY, tenant)
        if ANY not in self.sources and source not in self.sources:
            return f"{self.name} may not emit source {source!r}"
        return self.refusal(Scope.EVENTS, tenant)


def expand_shorthand(value: Any) -> Any:
    """A string value (the old form) → the object form it has always meant."""
    if not isinstance(value, str):
        return value
    if value == ANY:
        return {"name": ANY, "scopes": [ANY], "sources": [ANY], "tenants": [ANY]}
    if value == DIRECTORY_SOURCE:
        return {"name": value, "scopes": [Scope.DIRECTORY.value], "tenants": [DEFAULT_TENANT]}
    return {
        "name": value,
        "scopes": [Scope.EVENTS.value],
        "sources": [value],
        "tenants": [DEFAULT_TENANT],
    }


PrincipalSetting = Annotated[ServicePrincipal, BeforeValidator(expand_shorthand)]


def key_label(key: str) -> str:
    """A name for an API key that never reveals it (logs, rejected rows)."""
    return "key sha256:" + hashlib.sha256(key.encode()).hexdigest()[:8]


def named_keys(keys: Mapping[str, ServicePrincipal]) -> dict[str, ServicePrincipal]:
    """Name each key's principal that has no name of its own after the key's fingerprint."""
    return {
        key: p if p.name else p.model_copy(update={"name": key_label(key)})
        for key, p in keys.items()
    }


def named_users(users: Mapping[str, ServicePrincipal]) -> dict[str, ServicePrincipal]:
    """A broker user's principal is named after the user, whatever the object says."""
    return {
        user: p.model_copy(update={"name": f"broker user {user!r}"}) for user, p in users.items()
    }


def broker_user(amqp_url: str) -> str | None:
    """The RabbitMQ user a connection to ``amqp_url`` logs in as (aiormq's PLAIN login, which
    defaults to ``guest``); None with EXTERNAL (certificate) login, where only the broker knows."""
    parts = urlsplit(amqp_url)
    auth = parse_qs(parts.query).get("auth", ["plain"])[0]
    if auth.lower() == "external":
        return None
    return unquote(parts.username) if parts.username else "guest"
