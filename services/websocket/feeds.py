"""Entity feeds as configuration (DESIGN §8): which events feed a type, its parameters, the
whitelisted fields the browser may see, and the permission check each message needs.

The YAML is validated once at start; a mistake stops the gateway with the feed and field named.
Only whitelisted dotted paths are copied out of an event, so a field that appears tomorrow
(``payload.contact_phone``) is never sent unless an operator adds it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from libs.common.bus.topology import topic_matches
from libs.common.runtime.errors import HeraldError
from libs.common.schemas.permissions import PermissionItem

MAX_PARAM_CHARS = 128
ROUTE_CACHE_SIZE = 10_000  # distinct routing keys remembered; cleared when full
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_NAME = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
_ROUTE = re.compile(r"^([A-Za-z0-9_-]+|\*|#)(\.([A-Za-z0-9_-]+|\*|#))*$")


class FeedsConfigError(HeraldError):
    """The feeds file is missing or invalid; the message names the feed and field."""


def _check_paths(paths: Sequence[str]) -> None:
    for path in paths:
        if not _PATH.match(path):
            raise ValueError(f"{path!r} is not a dotted path like entity.attributes.deadline")


class AuthorizeObject(BaseModel):
    """Where the checked object comes from: dotted paths into the event envelope."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    module: str = "source"
    object_type: str = "entity.type"
    object_id: str = "entity.id"
    project_id: str | None = "project_id"
    access: Literal["read", "write"] = "read"

    @field_validator("module", "object_type", "object_id", "project_id")
    @classmethod
    def _paths(cls, value: str | None) -> str | None:
        _check_paths([value] if value else [])
        return value


class FeedConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    sources: list[str] = Field(min_length=1, description="routing keys on herald.events")
    params: dict[str, str] = Field(description="parameter name -> dotted path in the event")
    fields: list[str] = Field(min_length=1, description="whitelist of dotted paths sent")
    authorize: Literal["none"] | AuthorizeObject

    @field_validator("sources")
    @classmethod
    def _routes(cls, value: list[str]) -> list[str]:
        bad = [key for key in value if not _ROUTE.match(key)]
        if bad:
            raise ValueError(f"not AMQP topic routing keys: {bad}")
        return value

    @field_validator("params")
    @classmethod
    def _params(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [name for name in value if not _NAME.match(name)]
        if bad:
            raise ValueError(f"parameter names must be lowercase identifiers: {bad}")
        _check_paths(list(value.values()))
        return value

    @field_validator("fields")
    @classmethod
    def _fields(cls, value: list[str]) -> list[str]:
        _check_paths(value)
        return value


class FeedsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feeds: dict[str, FeedConfig] = Field(default_factory=dict)

    @field_validator("feeds")
    @classmethod
    def _names(cls, value: dict[str, FeedConfig]) -> dict[str, FeedConfig]:
        bad = [name for name in value if not _NAME.match(name)]
        if bad:
            raise ValueError(f"feed names must be lowercase identifiers: {bad}")
        return value


def lookup(event: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path, or None when any step is missing or not an object."""
    value: Any = event
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def project(event: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    """A new nested dict holding only the whitelisted paths that exist in the event."""
    out: dict[str, Any] = {}
    for path in fields:
        value = lookup(event, path)
        if value is None:
            continue
        *parents, leaf = path.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


@dataclass(frozen=True)
class Feed:
    name: str
    config: FeedConfig

    def routes(self, routing_key: str) -> bool:
        return any(topic_matches(pattern, routing_key) for pattern in self.config.sources)

    def params_of(self, event: Mapping[str, Any]) -> tuple[str, ...] | None:
        """The subscription parameters this event belongs to, in declared order."""
        values = []
        for path in self.config.params.values():
            value = lookup(event, path)
            if not isinstance(value, str | int) or isinstance(value, bool):
                return None
            values.append(str(value))
        return tuple(values)

    def check_params(self, given: Mapping[str, Any]) -> tuple[str, ...]:
        """A subscription's parameters, validated; ValueError says what is wrong."""
        expected = set(self.config.params)
        if set(given) != expected:
            raise ValueError(f"feed {self.name!r} needs exactly the parameters {sorted(expected)}")
        values = []
        for name in self.config.params:
            value = given[name]
            if not isinstance(value, str) or not 0 < len(value) <= MAX_PARAM_CHARS:
                raise ValueError(f"parameter {name!r} must be a string of 1-{MAX_PARAM_CHARS}")
            values.append(value)
        return tuple(values)

    def permission_item(self, event: Mapping[str, Any], user_id: str) -> PermissionItem | None:
        """The object to check for this user, or None when the event lacks it (→ deny)."""
        rule = self.config.authorize
        if rule == "none":
            return None
        parts = [lookup(event, p) for p in (rule.module, rule.object_type, rule.object_id)]
        project = lookup(event, rule.project_id) if rule.project_id else None
        if not all(isinstance(p, str | int) for p in parts):
            return None
        try:
            return PermissionItem(
                module=str(parts[0]),
                object_type=str(parts[1]),
                object_id=str(parts[2]),
                project_id=None if project is None else str(project),
                user_id=user_id,
            )
        except ValidationError:
            return None


class FeedSet:
    def __init__(self, feeds: Mapping[str, FeedConfig]) -> None:
        self.feeds = {name: Feed(name, cfg) for name, cfg in feeds.items()}
        self._routes: dict[str, list[Feed]] = {}

    def routing_keys(self) -> list[str]:
        return sorted({key for f in self.feeds.values() for key in f.config.sources})

    def matching(self, routing_key: str) -> list[Feed]:
        found = self._routes.get(routing_key)
        if found is None:
            if len(self._routes) >= ROUTE_CACHE_SIZE:
                self._routes.clear()
            found = [f for f in self.feeds.values() if f.routes(routing_key)]
            self._routes[routing_key] = found
        return found


def load_feeds(path: Path | None) -> FeedSet:
    if path is None:
        return FeedSet({})
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise FeedsConfigError(f"HERALD_WS_FEEDS_FILE {path}: cannot read: {exc}") from exc
    try:
        return FeedSet(FeedsFile.model_validate(raw).feeds)
    except ValidationError as exc:
        lines = [
            f"  {'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            for err in exc.errors(include_url=False)
        ]
        raise FeedsConfigError(
            f"HERALD_WS_FEEDS_FILE {path} is invalid:\n" + "\n".join(lines)
        ) from None
