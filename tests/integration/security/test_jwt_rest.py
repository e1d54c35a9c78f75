"""The JWT attack set against every route of the ingest app that takes a user token — the
inbox, counts, preferences, subscriptions, digest and Telegram link routers, whatever their
OpenAPI lists — with HS256 and with RS256 keys; and wrong service keys against every route
that takes an X-API-Key. Nothing else in the OpenAPI may be reachable without credentials.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.apps import API_KEY
from tests.integration.security.jwt_attacks import FAMILIES, REQUIRED_ATTACKS, attack_set
from tests.integration.security.user_routes import (
    PUBLIC,
    SAMPLES,
    Route,
    api_key_routes,
    unauthenticated_routes,
    user_routes,
)
from tests.integration.services.ingest.test_auth_jwt import Keys
from tests.integration.services.ingest.user_api_data import user_api, user_api_app
from tests.unit.security.jwks_server import key_server, signed

PARAMS = {"item_id": 1, "sub_id": 1, "channel": "email", "user_id": "u-17"}
ROUTERS = {"inbox", "preferences", "subscriptions", "digest", "telegram"}
BOT: dict[str, Any] = {"telegram_bot_username": "herald_test_bot"}  # not `decide`


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


# --- a JWKS URL: the verifier follows the issuer's key set (issue 15) ---

PROBE = "/v1/inbox/counts"
CACHE_S = 0.5  # HERALD_JWT_JWKS_CACHE_S, short so the test sees the set expire


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_jwks_key_removed_from_the_set_stops_working_within_the_cache_interval(
    database_url: str,
) -> None:
    with key_server("k1") as keys:
        async with user_api(database_url, **keys.settings(jwt_jwks_cache_s=CACHE_S)) as http:
            assert (await http.get(PROBE, headers=_bearer(signed("k1")))).status_code == 200
            keys.publish("k2")  # k1 withdrawn (say, leaked)
            await asyncio.sleep(CACHE_S + 0.2)
            resp = await http.get(PROBE, headers=_bearer(signed("k1")))
            assert resp.status_code == 401, resp.text
            assert (await http.get(PROBE, headers=_bearer(signed("k2")))).status_code == 200


async def test_jwks_rotated_key_works_at_once_and_refetches_are_rate_limited(
    database_url: str,
) -> None:
    settings = {"jwt_jwks_refetch_cooldown_s": 60}
    with key_server("k1") as keys:
        async with user_api(database_url, **keys.settings(**settings)) as http:
            assert (await http.get(PROBE, headers=_bearer(signed("k1")))).status_code == 200
            keys.publish("k1", "k2")  # the issuer rotates: k2 signs from now on
            resp = await http.get(PROBE, headers=_bearer(signed("k2")))
            assert resp.status_code == 200, resp.text
            assert keys.fetches == 2  # the first token, then k2's unknown kid
            for i in range(30):  # unknown kids cannot make us hammer the key server
                junk = signed(f"junk-{i}", signer="k1")
                assert (await http.get(PROBE, headers=_bearer(junk))).status_code == 401
            assert keys.fetches == 2
            # the price of the limit: a key published within the cooldown of the last
            # unknown-kid refetch waits for the cooldown (or the cache interval)
            keys.publish("k1", "k2", "k3")
            assert (await http.get(PROBE, headers=_bearer(signed("k3")))).status_code == 401


async def test_jwks_server_down_is_503_never_401(database_url: str) -> None:
    keys_settings = {"jwt_jwks_cache_s": CACHE_S, "jwt_jwks_refetch_cooldown_s": 0}
    with key_server("k1") as keys:
        async with user_api(database_url, **keys.settings(**keys_settings)) as http:
            assert (await http.get(PROBE, headers=_bearer(signed("k1")))).status_code == 200
            keys.down = True
            # a kid we do not know while the server is down: maybe a new key, so not 401
            resp = await http.get(PROBE, headers=_bearer(signed("k2")))
            assert (resp.status_code, resp.headers.get("retry-after")) == (503, "5"), resp.text
            # known keys keep working while the cached set is fresh
            assert (await http.get(PROBE, headers=_bearer(signed("k1")))).status_code == 200
            await asyncio.sleep(CACHE_S + 0.2)
            resp = await http.get(PROBE, headers=_bearer(signed("k1")))
            assert resp.status_code == 503, resp.text
            assert resp.json()["error"]["code"] == "unavailable"
            keys.down = False
            assert (await http.get(PROBE, headers=_bearer(signed("k1")))).status_code == 200
