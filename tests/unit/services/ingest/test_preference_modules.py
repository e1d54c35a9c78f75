"""preference_rules.modules_of: what a tenant's event type rows say about each module's
channels, without a database (the rows are the query's, in any order)."""

from __future__ import annotations

from libs.common.db.models import EventType
from services.ingest.user_api.preference_rules import Module, modules_of


def _type(
    key: str,
    channels: list[str],
    *,
    tenant: str | None = None,
    critical: bool = False,
    digestible: bool = True,
    enabled: bool = True,
) -> EventType:
    return EventType(
        tenant=tenant, key=key, source=key.split(".")[0], default_channels=channels,
        critical=critical, digestible=digestible, enabled=enabled,
    )  # fmt: skip


def test_the_tenants_row_wins_over_the_global_one_in_either_order() -> None:
    global_row = _type("tasks.created", ["email"], critical=True)
    own_row = _type("tasks.created", ["telegram"], tenant="acme", digestible=False)
    want = {"tasks": Module(default_channels={"telegram"}, has_types=True)}
    assert modules_of([global_row, own_row]) == want
    assert modules_of([own_row, global_row]) == want


def test_a_module_gathers_its_enabled_types_channels_and_critical_ones() -> None:
    rows = [
        _type("tasks.created", ["email", "browser"], digestible=False),
        _type("tasks.overdue", ["telegram"], critical=True),
        _type("tasks.archived", ["sms"], enabled=False),
        _type("docs.signed", ["email"], digestible=False),
    ]
    assert modules_of(rows) == {
        "tasks": Module(
            default_channels={"email", "browser", "telegram"},
            critical={"tasks.overdue": {"telegram"}},
            digestible=True,
            has_types=True,
        ),
        "docs": Module(default_channels={"email"}, digestible=False, has_types=True),
    }


def test_a_tenants_disabled_row_hides_the_global_type() -> None:
    own_row = _type("tasks.created", ["email"], tenant="acme", enabled=False)
    rows = [_type("tasks.created", ["email"]), own_row]
    assert modules_of(rows) == {}
