"""Permissions mediator (DESIGN §9). Skeleton: health and metrics; the check API grows here."""

from __future__ import annotations

from fastapi import FastAPI

from libs.common.health import health_router
from services.acl_mediator.settings import MediatorSettings


def create_app(settings: MediatorSettings) -> FastAPI:
    app = FastAPI(title="Herald permissions mediator", version="1")
    app.state.settings = settings
    # the mediator holds no database or broker: ready as soon as it answers
    app.include_router(health_router(lambda: []))
    return app
