"""Permissions mediator settings (DESIGN §14): callers' keys, module backends, cache TTLs."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from libs.common.runtime.metrics import MetricsSettings
from libs.common.runtime.settings import ServiceKeySettings
from libs.common.security.principals import Scope, ServicePrincipal
from services.acl_mediator.modules import ModulesFile, load_modules


class MediatorSettings(ServiceKeySettings, MetricsSettings):
    acl_modules_file: Path | None = Field(
        default=None, description="YAML: module name → base_url, timeout_s, auth_header"
    )
    # a grant is kept longer than a denial: a wrongly kept denial delays a notification,
    # a wrongly kept grant shows someone an object for at most this long after revocation
    acl_grant_ttl_s: float = Field(default=30.0, gt=0, le=3600)
    acl_deny_ttl_s: float = Field(default=5.0, gt=0, le=3600)
    acl_cache_size: int = Field(default=200_000, ge=1, le=10_000_000)

    @field_validator("api_keys")
    @classmethod
    def _some_key_may_ask(cls, value: dict[str, ServicePrincipal]) -> dict[str, ServicePrincipal]:
        """Only keys with the permissions scope may call the mediator (DESIGN §3.1); without
        one it could answer nobody. A value like "sender" now means a producer's events."""
        if not any(p.has(Scope.PERMISSIONS) for p in value.values()):
            raise ValueError(
                'no key has the "permissions" scope: give callers '
                '{"scopes": ["permissions"], "tenants": ["*"]} (or "*")'
            )
        return value

    @field_validator("acl_modules_file")
    @classmethod
    def _valid_modules_file(cls, value: Path | None) -> Path | None:
        load_modules(value)  # refuse to start on a broken file, naming the problem
        return value

    def modules(self) -> ModulesFile:
        return load_modules(self.acl_modules_file)
