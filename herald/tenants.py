"""``herald tenant``: the tenant registry from the command line (DESIGN §15).

Running services see a change within the registry's cache time (libs/common/tenancy/tenants.py,
``REGISTRY_TTL_S``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from pydantic import ValidationError

from herald.settings_errors import explain

if TYPE_CHECKING:  # the database layer loads when a tenant command runs, not for `herald run`
    from sqlalchemy.ext.asyncio import AsyncSession

app = typer.Typer(help="Tenants: add, list, disable, enable.", no_args_is_help=True)
T = TypeVar("T")
Key = Annotated[str, typer.Argument(help="the tenant's key, as events and tokens carry it")]


def _fail(message: str) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(2)


def _in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run ``work`` in one transaction on HERALD_DATABASE_URL."""
    from herald.database import in_transaction
    from libs.common.runtime.settings import DatabaseSettings
    from libs.common.tenancy.tenant_store import TenantError

    try:
        url = DatabaseSettings().database_url
    except ValidationError as exc:
        _fail(explain("tenant", exc))
    try:
        return asyncio.run(in_transaction(url, work))
    except TenantError as exc:
        _fail(str(exc))
        raise  # unreachable: _fail exits


@app.command("add")
def add_command(
    key: Key,
    name: Annotated[str, typer.Option(help="shown in the admin")] = "",
    settings: Annotated[
        str, typer.Option(help='JSON, e.g. \'{"digest": {"time": "08:00"}}\' (docs/tenants.md)')
    ] = "{}",
) -> None:
    """Register a tenant (enabled): its events and tokens are accepted from now on."""
    try:
        parsed = json.loads(settings)
    except json.JSONDecodeError as exc:
        _fail(f"--settings is not JSON: {exc}")
    from libs.common.tenancy.tenant_store import add_tenant

    row = _in_transaction(lambda s: add_tenant(s, key, name, parsed))
    typer.echo(f"tenant {row.key!r} added")


@app.command("list")
def list_command() -> None:
    """Every tenant: key, enabled or disabled, name, settings."""
    from libs.common.tenancy.tenant_store import list_tenants

    for row in _in_transaction(list_tenants):
        state = "enabled " if row.enabled else "disabled"
        typer.echo(f"{row.key}\t{state}\t{row.name}\t{json.dumps(row.settings, sort_keys=True)}")


@app.command("disable")
def disable_command(key: Key) -> None:
    """Refuse the tenant's events and tokens from now on (its data stays)."""
    from libs.common.tenancy.tenant_store import set_enabled

    _in_transaction(lambda s: set_enabled(s, key, False))
    typer.echo(f"tenant {key!r} disabled")


@app.command("enable")
def enable_command(key: Key) -> None:
    """Accept a disabled tenant's events and tokens again."""
    from libs.common.tenancy.tenant_store import set_enabled

    _in_transaction(lambda s: set_enabled(s, key, True))
    typer.echo(f"tenant {key!r} enabled")
