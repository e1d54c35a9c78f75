"""The mediator's module backends: server-side configuration only (HERALD_ACL_MODULES_FILE).

Nothing in a request reaches these values: a request names a module, and the module's name is
only ever a key into this table; the address, timeout and credentials come from here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

MODULE_NAME = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
TENANT_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$"  # as events carry it
DEFAULT_TIMEOUT_S = 2.0
DEFAULT_CHUNK = 250  # items per upstream call: keeps one answer well under a second to parse
DEFAULT_CONNECTIONS = 20

ModuleName = Annotated[str, StringConstraints(pattern=MODULE_NAME)]
TenantName = Annotated[str, StringConstraints(pattern=TENANT_NAME)]


class ModulesFileError(ValueError):
    """The modules file is missing or invalid; the message says where and why."""


class AuthHeader(BaseModel):
    """A header sent with every call to this module; the secret may come from the environment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")
    value: str | None = Field(default=None, min_length=1)
    value_env: str | None = Field(default=None, min_length=1)

    def resolve(self) -> str:
        if (self.value is None) == (self.value_env is None):
            raise ValueError("give exactly one of value, value_env")
        if self.value is not None:
            return self.value
        assert self.value_env is not None
        found = os.environ.get(self.value_env)
        if not found:
            raise ValueError(f"environment variable {self.value_env} is not set")
        return found


def plain_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError("must not carry credentials, a query or a fragment")
    return value.rstrip("/")


class TenantBackend(BaseModel):
    """One tenant's own backend for a module (DESIGN §15): its address, and whatever else it
    changes; the rest is the module's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str
    timeout_s: float | None = Field(default=None, gt=0, le=60)
    auth_header: AuthHeader | None = None
    max_batch: int | None = Field(default=None, ge=1, le=1_000)
    max_connections: int | None = Field(default=None, ge=1, le=1_000)

    _url = field_validator("base_url")(plain_http_url)


class ModuleConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    base_url: str | None = None  # None: the module exists only for the tenants listed
    timeout_s: float = Field(default=DEFAULT_TIMEOUT_S, gt=0, le=60)
    auth_header: AuthHeader | None = None
    max_batch: int = Field(default=DEFAULT_CHUNK, ge=1, le=1_000)
    max_connections: int = Field(default=DEFAULT_CONNECTIONS, ge=1, le=1_000)
    tenants: dict[TenantName, TenantBackend] = Field(default_factory=dict)

    @field_validator("base_url")
    @classmethod
    def _plain_http_url(cls, value: str | None) -> str | None:
        return None if value is None else plain_http_url(value)

    @model_validator(mode="after")
    def _somewhere(self) -> ModuleConfig:
        if self.base_url is None and not self.tenants:
            raise ValueError("give base_url, or tenants with their own base_url")
        return self

    def for_tenant(self, tenant: str) -> ModuleConfig:
        """The module as ``tenant``'s items are asked: its own backend over the module's."""
        own = self.tenants[tenant]
        changed = own.model_dump(exclude_none=True, exclude={"auth_header"})
        if own.auth_header is not None:
            changed["auth_header"] = own.auth_header
        return self.model_copy(update={**changed, "tenants": {}})

    def headers(self) -> dict[str, str]:
        if self.auth_header is None:
            return {}
        return {self.auth_header.name: self.auth_header.resolve()}


class ModulesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    modules: dict[ModuleName, ModuleConfig] = Field(default_factory=dict)

    def check_secrets(self, origin: str) -> None:
        for name, module in self.modules.items():
            scopes = [(f"modules.{name}", module)] + [
                (f"modules.{name}.tenants.{tenant}", module.for_tenant(tenant))
                for tenant in module.tenants
            ]
            for where, config in scopes:
                try:
                    config.headers()
                except ValueError as exc:
                    raise ModulesFileError(f"{origin}: {where}.auth_header: {exc}") from exc

    def backends(self) -> dict[tuple[str, str | None], ModuleConfig]:
        """Every backend to keep a client for: (module, None) for the module's own address,
        (module, tenant) for a tenant's own (DESIGN §15)."""
        found: dict[tuple[str, str | None], ModuleConfig] = {}
        for name, module in self.modules.items():
            if module.base_url is not None:
                found[(name, None)] = module
            for tenant in module.tenants:
                found[(name, tenant)] = module.for_tenant(tenant)
        return found


def parse_modules(text: str, origin: str = "<modules>") -> ModulesFile:
    """Validate the YAML text of a modules file; errors name the path inside the file."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ModulesFileError(f"{origin}: not valid YAML: {exc}") from exc
    try:
        parsed = ModulesFile.model_validate(data if data is not None else {})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<top>'}: {err['msg']}"
            for err in exc.errors(include_url=False)
        )
        raise ModulesFileError(f"{origin}: {problems}") from exc
    parsed.check_secrets(origin)
    return parsed


def load_modules(path: Path | None) -> ModulesFile:
    """No file → no modules: every item is answered 'unknown module' (denied)."""
    if path is None:
        return ModulesFile()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModulesFileError(f"{path}: cannot read: {exc.strerror}") from exc
    return parse_modules(text, str(path))
