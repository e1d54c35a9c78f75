"""Permissions mediator (DESIGN §9): wiring only."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import aiohttp
from fastapi import FastAPI

from libs.common.web.body_limit import BodyLimitMiddleware
from libs.common.web.health import health_router
from services.acl_mediator.api import router
from services.acl_mediator.cache import PermissionCache
from services.acl_mediator.checker import Checker
from services.acl_mediator.openapi import openapi
from services.acl_mediator.settings import MediatorSettings
from services.acl_mediator.upstream import ModuleBackend

log = logging.getLogger("herald.acl_mediator")


def create_app(
    settings: MediatorSettings, trace_configs: Sequence[aiohttp.TraceConfig] = ()
) -> FastAPI:
    """``trace_configs`` observe every upstream request (tests record the URLs asked)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        backends = {  # per module, and per tenant where a tenant has its own (DESIGN §15)
            (name, tenant): ModuleBackend(name, config, trace_configs)
            for (name, tenant), config in settings.modules().backends().items()
        }
        if not backends:
            log.warning("no module backends configured (HERALD_ACL_MODULES_FILE): all denied")
        cache = PermissionCache(
            settings.acl_cache_size, settings.acl_grant_ttl_s, settings.acl_deny_ttl_s
        )
        app.state.checker = Checker(cache, backends)
        # what exists now (FastAPI, pydantic, aiohttp: about 80,000 objects) lives as long as
        # the process; left to the collector it adds ~25 ms to every full collection, which
        # is what a cold batch's p99 is made of (bench/acl)
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await app.state.checker.close()
            for backend in backends.values():
                await backend.close()

    app = FastAPI(title="Herald permissions mediator", version="1", lifespan=lifespan)
    app.state.settings = settings
    # the mediator holds no database or broker: ready as soon as it answers
    app.include_router(health_router(lambda: [], settings))
    app.include_router(router)
    # /check caps its own body (422, docs/permissions.md); the rest must not buffer unbounded
    app.add_middleware(BodyLimitMiddleware, own_limits=("/v1/permissions/check",))
    app.openapi = lambda: openapi(app)  # type: ignore[method-assign]
    return app
