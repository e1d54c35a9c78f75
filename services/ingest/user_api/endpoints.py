"""The user API's routes: the inbox, preferences and subscriptions, in one router."""

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
