"""The user API (DESIGN §1): inbox, counters, preferences, subscriptions — JWT-authenticated.

Every query is scoped to the token's (tenant, user); another user's item answers 404.
"""

from __future__ import annotations

from fastapi import APIRouter

from services.ingest.user_api.inbox import router as inbox_router
from services.ingest.user_api.preferences import router as preferences_router
from services.ingest.user_api.subscriptions import router as subscriptions_router


def user_api_router() -> APIRouter:
    router = APIRouter()
    for sub in (inbox_router, preferences_router, subscriptions_router):
        router.include_router(sub)
    return router
