"""The tenant registry in the admin (DESIGN §15): add a tenant, disable it, edit its settings
(digest defaults, default modes, retention — docs/tenants.md). Saved with the same checks as
``herald tenant``; running services see the change within the registry's cache time."""

from __future__ import annotations

from typing import Any, ClassVar

from sqladmin.filters import BooleanFilter
from starlette.requests import Request

from libs.common.db.models import Tenant
from libs.common.tenancy.tenant_store import check_key, check_settings
from libs.common.tenancy.tenants import REGISTRY_TTL_S
from services.ingest.admin.base import HeraldView, pre_json
from services.ingest.admin.scope import scope_of


class TenantAdmin(HeraldView, model=Tenant):
    name, name_plural, icon = "Tenant", "Tenants", "fa-solid fa-building"
    category = "Configuration"
    form_include_pk = True
    can_delete = False  # a tenant's rows outlive it: disable it instead
    column_list: ClassVar[list[Any]] = [Tenant.key, Tenant.name, Tenant.enabled, Tenant.updated_at]
    column_searchable_list: ClassVar[list[Any]] = [Tenant.key, Tenant.name]
    column_filters: ClassVar[list[Any]] = [BooleanFilter(Tenant.enabled)]
    column_formatters_detail: ClassVar[dict[Any, Any]] = {
        Tenant.settings: lambda m, a: pre_json(m.settings)
    }
    form_excluded_columns: ClassVar[list[Any]] = [Tenant.created_at, Tenant.updated_at]
    form_args: ClassVar[dict[str, dict[str, Any]]] = {
        "key": {
            "description": "what events and tokens carry (a-z, 0-9, - and _); fixed once saved"
        },
        "enabled": {
            "description": "off: the tenant's events are rejected and its tokens refused "
            f"(within {REGISTRY_TTL_S:.0f} s)"
        },
        "settings": {
            "description": 'JSON, e.g. {"digest": {"days": [0, 2, 4], "time": "08:00", '
            '"timezone": "Europe/Berlin"}} — the fields are in docs/tenants.md'
        },
    }

    tenant_field = None  # the row is the tenant: a bound admin sees its own (scope.py)

    async def check_can_create(self, request: Request) -> bool:
        """Only a global admin adds tenants."""
        return scope_of(request) is None and await super().check_can_create(request)

    async def on_model_change(
        self, data: dict[str, Any], model: Any, is_created: bool, request: Request
    ) -> None:
        if scope_of(request) is not None and bool(data.get("enabled")) != model.enabled:
            raise ValueError("only a global admin enables or disables a tenant")
        if is_created:
            check_key(str(data.get("key") or ""))
        elif data.get("key", model.key) != model.key:
            raise ValueError("the key of a tenant cannot change (events and tokens carry it)")
        data["name"] = data.get("name") or data.get("key") or model.key
        data["settings"] = check_settings(data.get("settings"))

    async def after_model_change(
        self, data: dict[str, Any], model: Any, is_created: bool, request: Request
    ) -> None:
        self.ctx.tenants.invalidate()  # this process sees it at once
