"""Producer principals (DESIGN §3.1): what the shorthand has always meant, what the object form
may say, and the reasons a refusal gives. Pure logic."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from libs.common.runtime.settings import AmqpProducerSettings, ServiceKeySettings
from libs.common.security.principals import Scope, ServicePrincipal, broker_user, key_label

KEY = "a-key-of-sixteen-chars"


def _keys(value: object) -> ServicePrincipal:
    return ServiceKeySettings(api_keys={KEY: value}).api_keys[KEY]


def test_a_source_name_means_its_events_in_tenant_default_only() -> None:
    tenders = _keys("tenders")
    assert tenders.event_refusal("tenders", "default") is None
    assert (
        tenders.event_refusal("approvals", "default") == "tenders may not emit source 'approvals'"
    )
    assert tenders.event_refusal("tenders", "acme") == "tenders may not act in tenant 'acme'"
    assert tenders.refusal(Scope.PERMISSIONS, "default") == "tenders lacks the 'permissions' scope"
    assert tenders.refusal(Scope.DIRECTORY, "default") is not None
    assert tenders.event_refusal("directory", "default") is not None  # directory events


def test_star_is_everything_and_directory_is_the_directory_of_default() -> None:
    star = _keys("*")
    for scope in Scope:
        assert star.refusal(scope, "any-tenant") is None
    assert star.event_refusal("directory", "acme") is None
    directory = _keys("directory")
    assert directory.refusal(Scope.DIRECTORY, "default") is None
    assert directory.event_refusal("directory", "default") is None
    assert directory.event_refusal("directory", "acme") is not None
    assert directory.event_refusal("tenders", "default") is not None


def test_the_object_form_with_stars_in_each_list() -> None:
    spec = {"scopes": ["events"], "sources": ["tenders", "approvals"], "tenants": ["*"]}
    both = _keys(spec)
    assert both.event_refusal("approvals", "acme") is None
    assert both.event_refusal("design", "acme") is not None
    assert both.refusal(Scope.PERMISSIONS, "acme") is not None
    assert both.name == key_label(KEY) and KEY not in both.name  # never the key itself
    mediator = _keys({"name": "sender", "scopes": ["permissions"], "tenants": ["acme"]})
    assert mediator.name == "sender"
    assert mediator.refusal(Scope.PERMISSIONS, "acme") is None
    assert mediator.refusal(Scope.PERMISSIONS, "beta") == "sender may not act in tenant 'beta'"
    assert mediator.event_refusal("sender", "acme") is not None


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"scopes": ["events"], "tenants": ["default"]}, 'needs "sources"'),
        ({"scopes": ["event"], "sources": ["x"], "tenants": ["default"]}, "unknown scopes"),
        ({"scopes": [], "tenants": ["default"]}, "scopes"),
        ({"scopes": ["permissions"]}, "tenants"),
        ({"scopes": ["permissions"], "tenants": ["*"], "admin": True}, "admin"),
        (42, "valid dictionary"),
    ],
)
def test_an_invalid_principal_refuses_to_start(value: object, problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        _keys(value)


def test_settings_read_both_forms_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    keys = {
        KEY: "tenders",
        "another-key-0123456789": {"scopes": ["*"], "sources": ["*"], "tenants": ["*"]},
    }
    monkeypatch.setenv("HERALD_API_KEYS", json.dumps(keys))
    monkeypatch.setenv("HERALD_AMQP_URL", "amqp://x/")
    monkeypatch.setenv("HERALD_AMQP_PRODUCERS", json.dumps({"tenders": "tenders"}))
    parsed = ServiceKeySettings().api_keys
    assert parsed[KEY].sources == {"tenders"} and parsed[KEY].tenants == {"default"}
    producers = AmqpProducerSettings().amqp_producers
    assert producers is not None
    assert producers["tenders"].name == "broker user 'tenders'"
    monkeypatch.setenv("HERALD_AMQP_PRODUCERS", "")  # compose's `${HERALD_AMQP_PRODUCERS:-}`
    assert AmqpProducerSettings().amqp_producers is None


def test_broker_users_need_a_broker_with_users() -> None:
    with pytest.raises(ValidationError, match="memory://"):
        AmqpProducerSettings(amqp_url="memory://", amqp_producers={"tenders": "tenders"})


def test_the_broker_user_of_a_url() -> None:
    assert broker_user("amqp://tenders:pw@rabbit:5672/vh") == "tenders"
    assert broker_user("amqp://us%40er:pw@rabbit/") == "us@er"
    assert broker_user("amqp://rabbit/") == "guest"  # what aiormq logs in as
    assert broker_user("amqps://rabbit/?auth=EXTERNAL") is None  # the certificate decides
