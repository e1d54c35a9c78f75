"""Tenant-scoped admin accounts (DESIGN §15): which rows an admin sees and may change.

A global account (no tenants) sees everything. A bound account sees and edits only its
tenants' rows, on every page, action and export:

* lists, counts, exports and filter choices are narrowed to its tenants (``visible``);
* a row of another tenant is not found (404) on its details, edit and delete pages, and an
  action naming one refuses it like a missing row;
* global configuration (event types, templates and e-mail layouts of every tenant) is shown,
  since a tenant's overrides are written against it, but only a global admin changes it;
* what belongs to no tenant — rejected messages that name no registered tenant (tenant NULL)
  and dead letters (queues shared by all) — is for global admins only; a rejected message
  that names a registered tenant is that tenant's (``intake/rejected_tenant.py``).

The account's tenants are read on every request (``AdminAuth.authenticate``), so binding or
unbinding an account takes effect at once.
"""

from __future__ import annotations

from typing import Any

from sqladmin.authorization import AuthorizationBackend
from sqlalchemy import ColumnElement, or_
from starlette.requests import Request

from libs.common.db.models import EmailLayout, EventType, Template, Tenant

Scope = frozenset[str] | None  # None: a global admin
SHARED_CONFIG: tuple[type[Any], ...] = (EventType, Template, EmailLayout)
GLOBAL_ONLY_VIEWS = frozenset({"dead-letters"})
_STATE = "herald_admin_tenants"


def set_scope(request: Request, tenants: list[str] | None) -> None:
    setattr(request.state, _STATE, None if tenants is None else frozenset(tenants))


def scope_of(request: Request) -> Scope:
    found: Scope = getattr(request.state, _STATE, frozenset())  # unauthenticated: nothing
    return found


def tenant_column(model: Any) -> Any:
    return model.key if model is Tenant else model.tenant


def row_tenant(obj: Any) -> str | None:
    return str(obj.key) if isinstance(obj, Tenant) else obj.tenant


def visible(model: Any, scope: Scope) -> ColumnElement[bool] | None:
    """The rows of ``model`` a scope sees; None: all of them."""
    if scope is None:
        return None
    column = tenant_column(model)
    mine = column.in_(sorted(scope))
    return or_(mine, column.is_(None)) if issubclass(model, SHARED_CONFIG) else mine


def may_change(scope: Scope, tenant: str | None) -> bool:
    """A row of ``tenant`` (None: global configuration) may be written by this scope."""
    return scope is None or (tenant is not None and tenant in scope)


def check_writable(request: Request, tenant: object) -> None:
    """Raise ValueError (shown above the form) when the admin may not write ``tenant``."""
    value = str(tenant or "").strip() or None
    if not may_change(scope_of(request), value):
        whose = f"tenant {value!r}" if value else "every tenant (global configuration)"
        raise ValueError(f"this admin account may not change rows of {whose}")


class TenantAuthorization(AuthorizationBackend):
    """sqladmin's per-request hook: a bound account gets no global-only view, and may edit or
    delete only rows of its tenants (the row queries hide the others already)."""

    def has_permission(
        self, request: Request, identity: str, action: str, obj: Any | None = None
    ) -> bool:
        scope = scope_of(request)
        if scope is None:
            return True
        if identity in GLOBAL_ONLY_VIEWS:
            return False
        if action in ("edit", "delete") and obj is not None:
            return may_change(scope, row_tenant(obj))
        return True
