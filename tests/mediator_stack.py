"""The real permissions mediator in front of the reference module backend, both served over
HTTP on loopback: what the services ask in production, with rights the test controls."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from services.acl_mediator.app import create_app as mediator_app
from services.acl_mediator.reference_backend import create_reference_app
from services.acl_mediator.reference_data import Directory
from services.acl_mediator.settings import MediatorSettings
from tests.integration.services.sender.support import MEDIATOR_KEY
from tests.unit.services.acl_mediator.support import modules_file, serve

MODULES = ("tenders", "approvals", "design", "construction")


@asynccontextmanager
async def real_mediator(
    tmp_path: Path, directory: Directory, modules: Iterable[str] = MODULES, **settings: Any
) -> AsyncIterator[str]:
    """Yields the mediator's base URL; callers authenticate with ``MEDIATOR_KEY``."""
    async with serve(create_reference_app(directory)) as backend:
        config = modules_file(tmp_path, {m: {"base_url": backend} for m in modules})
        app = mediator_app(
            MediatorSettings(api_keys={MEDIATOR_KEY: "*"}, acl_modules_file=config, **settings)
        )
        async with serve(app) as url:
            yield url
