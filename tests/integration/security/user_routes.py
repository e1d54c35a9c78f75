"""Every authenticated route of the ingest app, read from its own OpenAPI, and for each user
route a request that exercises it (path parameters and a body).

The list comes from the app, the requests from ``SAMPLES``: a user route added without a
sample fails ``test_every_user_route_has_a_sample`` (tests/integration/security/test_isolation.py),
so no new endpoint escapes the JWT and isolation suites.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

BEARER = "HTTPBearer"
API_KEY_HEADER = "x-api-key"
PUBLIC = frozenset({"GET /healthz", "GET /readyz", "GET /metrics"})

SUBSCRIPTION: dict[str, Any] = {
    "name": "intruder's",
    "source": "tenders",
    "entity_type": "tender",
    "filter": [{"field": "section", "op": "eq", "value": "basement"}],
    "channels": ["email"],
}


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # the OpenAPI template, e.g. /v1/inbox/{item_id}/read

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    def url(self, params: dict[str, Any]) -> str:
        return self.path.format(**params)


@dataclass(frozen=True)
class Sample:
    """How to call a user route as someone else. ``object_route``: it names one item by id,
    so another user's id must answer 404."""

    body: Any = None
    object_route: bool = False
    intruder_sees: dict[str, Any] = field(default_factory=dict)


SAMPLES: dict[str, Sample] = {
    "GET /v1/inbox": Sample(),
    "GET /v1/inbox/counts": Sample(),
    "POST /v1/inbox/{item_id}/read": Sample(object_route=True),
    "POST /v1/inbox/{item_id}/unread": Sample(object_route=True),
    "POST /v1/inbox/{item_id}/archive": Sample(object_route=True),
    "POST /v1/inbox/{item_id}/unarchive": Sample(object_route=True),
    "POST /v1/inbox/read-all": Sample(body={}),
    "GET /v1/preferences": Sample(),
    "PUT /v1/preferences": Sample(
        body={"changes": [{"source": "canarymod", "channel": "email", "mode": None}]}
    ),
    "GET /v1/subscriptions": Sample(),
    "POST /v1/subscriptions": Sample(body=SUBSCRIPTION),
    "POST /v1/subscriptions/preview": Sample(
        body={"source": "canarysrc", "entity_type": "tender", "filter": []}
    ),
    "GET /v1/subscriptions/{sub_id}": Sample(object_route=True),
    "PUT /v1/subscriptions/{sub_id}": Sample(body=SUBSCRIPTION, object_route=True),
    "DELETE /v1/subscriptions/{sub_id}": Sample(object_route=True),
    "GET /v1/digest": Sample(),
    "GET /v1/digest/{channel}": Sample(),
    "PUT /v1/digest/{channel}": Sample(body={"days": [0], "time": "07:00", "timezone": "UTC"}),
    "GET /v1/telegram/link": Sample(intruder_sees={"linked": False}),
    "POST /v1/telegram/link": Sample(),
    "DELETE /v1/telegram/link": Sample(),
}


def _operations(app: FastAPI) -> list[tuple[Route, dict[str, Any]]]:
    return [
        (Route(method.upper(), path), op)
        for path, ops in app.openapi()["paths"].items()
        for method, op in ops.items()
    ]


def user_routes(app: FastAPI) -> list[Route]:
    """Routes that take a user JWT (their OpenAPI names the bearer scheme)."""
    return [
        route
        for route, op in _operations(app)
        if any(BEARER in requirement for requirement in op.get("security", []))
    ]


def api_key_routes(app: FastAPI) -> list[Route]:
    """Routes for services (an X-API-Key header parameter)."""
    return [
        route
        for route, op in _operations(app)
        if any(p.get("name") == API_KEY_HEADER for p in op.get("parameters", []))
    ]


def unauthenticated_routes(app: FastAPI) -> list[Route]:
    secured = {r.label for r in user_routes(app) + api_key_routes(app)}
    return [route for route, _ in _operations(app) if route.label not in secured]
