"""Running services in-process for tests: their real lifespan, their real wiring."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from starlette.applications import Starlette

from libs.common.security.auth import JwtSettings, issue_token
from services.ingest.settings import IngestSettings

API_KEY = "test-producer-key-0123456789"
JWT_SECRET = "test-jwt-secret-0123456789abcdefghijklmnop"
JWT_AUDIENCE = "herald-test"
JWT_ISSUER = "https://sso.test"
NO_MEDIATOR = "http://127.0.0.1:9"  # nothing listens: a call fails closed (503), never allows


def ingest_settings(database_url: str, amqp_url: str, **overrides: Any) -> IngestSettings:
    """Ingest settings for tests: one producer key allowed any source, HS256 user tokens, a
    mediator address that answers nothing (tests that read the inbox pass their own)."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "amqp_url": amqp_url,
        "api_keys": {API_KEY: "*"},
        "jwt_secret": JWT_SECRET,
        "jwt_audience": JWT_AUDIENCE,
        "jwt_issuer": JWT_ISSUER,
        "mediator_url": NO_MEDIATOR,
        "mediator_api_key": "test-mediator-key-0123456789",
        **overrides,
    }
    return IngestSettings(**values)


def user_token(user_id: str, tenant: str = "default", **claims: Any) -> str:
    settings = JwtSettings(jwt_secret=JWT_SECRET, jwt_audience=JWT_AUDIENCE, jwt_issuer=JWT_ISSUER)
    return issue_token(settings, user_id, tenant, **claims)


@asynccontextmanager
async def running(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """Enter the app's lifespan; yield an HTTP client talking to it in-process."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://herald.test") as client:
            yield client


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout_s: float = 10.0, interval_s: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if await check():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s")
        await asyncio.sleep(interval_s)
