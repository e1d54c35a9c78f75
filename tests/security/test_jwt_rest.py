"""The JWT attack set against every route of the ingest app that takes a user token — the
inbox, counts, preferences, subscriptions, digest and Telegram link routers, whatever their
OpenAPI lists — with HS256 and with RS256 keys; and wrong service keys against every route
that takes an X-API-Key. Nothing else in the OpenAPI may be reachable without credentials.
"""

from __future__ import annotations

import pytest

from tests.apps import API_KEY
from tests.security.jwt_attacks import FAMILIES, REQUIRED_ATTACKS, attack_set
from tests.security.user_routes import (
    PUBLIC,
    SAMPLES,
    Route,
    api_key_routes,
    unauthenticated_routes,
    user_routes,
)
from tests.services.ingest.test_auth_jwt import Keys
from tests.services.ingest.user_api_data import user_api_app

PARAMS = {"item_id": 1, "sub_id": 1, "channel": "email", "user_id": "u-17"}
ROUTERS = {"inbox", "preferences", "subscriptions", "digest", "telegram"}
BOT = {"telegram_bot_username": "herald_test_bot"}


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys()


def _body(route: Route) -> object:
    sample = SAMPLES.get(route.label)
    return sample.body if sample else None


@pytest.mark.parametrize("family", FAMILIES)
async def test_every_user_route_refuses_every_forged_token(
    database_url: str, keys: Keys, family: str
) -> None:
    attacks = attack_set(family, keys)
    assert set(attacks.attacks) >= REQUIRED_ATTACKS
    async with user_api_app(database_url, **attacks.settings, **BOT) as (app, http):
        routes = user_routes(app)
        assert {r.path.split("/")[2] for r in routes} >= ROUTERS
        for route in routes:
            url, body = route.url(PARAMS), _body(route)
            for name, token in attacks.attacks.items():
                headers = {"Authorization": f"Bearer {token}"}
                resp = await http.request(route.method, url, json=body, headers=headers)
                assert resp.status_code == 401, (route.label, name, resp.text)
                assert resp.json()["error"]["code"] == "unauthorized", (route.label, name)
                assert resp.headers["www-authenticate"] == "Bearer", (route.label, name)
            for headers in ({}, {"Authorization": "Basic YWxpY2U6cHc="}, {"Authorization": ""}):
                resp = await http.request(route.method, url, json=body, headers=headers)
                assert resp.status_code == 401, (route.label, headers)
            good = {"Authorization": f"Bearer {attacks.good}"}
            resp = await http.request(route.method, url, json=body, headers=good)
            assert resp.status_code != 401, (route.label, "the good token must pass", resp.text)


async def test_service_routes_refuse_missing_and_wrong_keys(database_url: str) -> None:
    wrong = {"": None, "empty": "", "wrong": "not-the-key-0123456789", "prefix": API_KEY[:-1]}
    async with user_api_app(database_url) as (app, http):
        routes = api_key_routes(app)
        assert {r.label for r in routes} >= {"POST /v1/events", "PUT /v1/recipients/{user_id}"}
        for route in routes:
            for name, key in wrong.items():
                headers = {} if key is None else {"X-API-Key": key}
                resp = await http.request(route.method, route.url(PARAMS), json={}, headers=headers)
                assert resp.status_code == 401, (route.label, name, resp.text)
            # a user's JWT is not a service key
            bearer = {"Authorization": f"Bearer {attack_set('HS256', Keys()).good}"}
            resp = await http.request(route.method, route.url(PARAMS), json={}, headers=bearer)
            assert resp.status_code == 401, route.label


async def test_nothing_else_is_reachable_without_credentials(database_url: str) -> None:
    async with user_api_app(database_url) as (app, _http):
        open_routes = {r.label for r in unauthenticated_routes(app)}
    assert open_routes <= PUBLIC, f"new unauthenticated routes: {open_routes - PUBLIC}"
