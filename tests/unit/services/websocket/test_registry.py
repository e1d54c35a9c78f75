"""The gateway's in-memory indexes (services/websocket/registry.py): who is connected, who
listens to which (feed, tenant, params) group, the per-connection cap; no server."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import pytest
from websockets.asyncio.server import ServerConnection

from services.websocket.registry import Client, GroupKey, Registry, TooManySubscriptions

TENDER: GroupKey = ("tender", "acme", ("T-1",))
OTHER_TENANT: GroupKey = ("tender", "beta", ("T-1",))


def client(user: str = "u-1", tenant: str = "acme") -> Client:
    # the registry never uses the connection: a stand-in with what a Client keeps of it
    conn = SimpleNamespace(protocol=None, transport=None)
    return Client(cast(ServerConnection, conn), tenant, user, exp=0.0)


def test_connections_are_indexed_per_tenant_and_user() -> None:
    registry = Registry(max_subscriptions=5)
    a, b, c = client(), client(), client(tenant="beta")
    for each in (a, b, c):
        registry.add(each)
    assert registry.of_user("acme", "u-1") == {a, b}
    assert registry.of_user("beta", "u-1") == {c}
    assert registry.of_user("acme", "u-2") == set()
    assert len(registry) == 3
    registry.remove(a)
    registry.remove(a)  # twice: nothing more happens
    assert registry.of_user("acme", "u-1") == {b}
    assert len(registry) == 2
    assert set(registry.clients()) == {b, c}


def test_a_group_holds_its_subscribers_and_goes_when_empty() -> None:
    registry = Registry(max_subscriptions=5)
    a, b = client(), client("u-2")
    assert registry.subscribe(a, TENDER) and registry.subscribe(b, TENDER)
    assert not registry.subscribe(a, TENDER)  # already
    assert registry.subscribe(a, OTHER_TENANT)  # another tenant's group is another group
    assert registry.groups[TENDER] == {a, b}
    assert registry.unsubscribe(b, TENDER)
    assert not registry.unsubscribe(b, TENDER)
    assert registry.groups[TENDER] == {a}
    registry.add(a)
    registry.remove(a)  # leaving drops every subscription
    assert registry.groups == {}


def test_subscriptions_per_connection_are_capped() -> None:
    registry = Registry(max_subscriptions=2)
    a = client()
    registry.subscribe(a, ("tender", "acme", ("T-1",)))
    registry.subscribe(a, ("tender", "acme", ("T-2",)))
    with pytest.raises(TooManySubscriptions):
        registry.subscribe(a, ("tender", "acme", ("T-3",)))
    assert registry.subscribe(client("u-2"), ("tender", "acme", ("T-3",)))  # per connection
