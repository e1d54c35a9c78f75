"""Schemathesis against the OpenAPI of the ingest app (events API, directory, user API, digest,
Telegram link) and of the permissions mediator: no generated input — valid or not — may make
either answer 5xx. Valid credentials are supplied, so the inputs reach the handlers.

One test per operation, the list taken from the app's own OpenAPI: a new endpoint is fuzzed
without anyone adding it here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from libs.common.schemas.permissions import UPSTREAM_CHECK_PATH
from services.acl_mediator.app import create_app as create_mediator
from services.acl_mediator.settings import MediatorSettings
from services.ingest.app import create_app as create_ingest
from tests.acceptance.security.fuzzing import (
    DEFAULT_EXAMPLES,
    fuzz,
    loaded_schema,
    operation_labels,
    scratch_database,
    threaded_server,
)
from tests.apps import API_KEY, NO_MEDIATOR, ingest_settings, user_token
from tests.unit.services.acl_mediator.support import (
    CALLER,
    closed_port_url,
    modules_file,
    reference_app,
    url_log,
)
from tests.unit.services.acl_mediator.support import KEY as MEDIATOR_KEY

EXAMPLES = int(os.environ.get("HERALD_FUZZ_EXAMPLES", DEFAULT_EXAMPLES))
UNFUZZED = frozenset({"GET /healthz", "GET /readyz", "GET /metrics"})  # no input to vary
BOT = {"telegram_bot_username": "herald_test_bot"}  # so POST /v1/telegram/link does work


def _ingest(database_url: str, mediator_url: str = NO_MEDIATOR) -> Any:
    mediator = {"mediator_url": mediator_url, "mediator_api_key": MEDIATOR_KEY}
    settings = ingest_settings(database_url, "memory://fuzz", **BOT, **mediator)
    return create_ingest(settings, consume=False)


def _mediator(modules: Path, urls: list[str] | None = None) -> Any:
    settings = MediatorSettings(api_keys={MEDIATOR_KEY: CALLER}, acl_modules_file=modules)
    return create_mediator(settings, trace_configs=[url_log(urls if urls is not None else [])])


INGEST_OPS = operation_labels(_ingest("postgresql+asyncpg://unused@127.0.0.1/unused"), UNFUZZED)


@pytest.fixture(scope="module")
def ingest_schema(
    template_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """The ingest app asks a real mediator (the inbox and the preview check rights)."""
    with threaded_server(reference_app()) as backend:
        modules = modules_file(tmp_path_factory.mktemp("acl"), {"tenders": {"base_url": backend}})
        with (
            threaded_server(_mediator(modules)) as mediator_url,
            scratch_database(template_database) as url,
            loaded_schema(_ingest(url, mediator_url)) as schema,
        ):
            yield schema


@dataclass
class MediatorUnderFuzz:
    schema: Any
    asked: list[str]  # every URL the mediator requested upstream (aiohttp's own hook)
    allowed: set[str]


@pytest.fixture(scope="module")
def mediator_fuzz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediatorUnderFuzz]:
    with threaded_server(reference_app()) as backend:
        modules = {"tenders": {"base_url": backend}, "down": {"base_url": closed_port_url()}}
        path = modules_file(tmp_path_factory.mktemp("acl"), modules)
        allowed = {m["base_url"] + UPSTREAM_CHECK_PATH for m in modules.values()}
        asked: list[str] = []
        with loaded_schema(_mediator(path, asked)) as schema:
            yield MediatorUnderFuzz(schema, asked, allowed)


def _credentials() -> dict[str, str]:
    return {"authorization": f"Bearer {user_token('fuzzer')}", "x-api-key": API_KEY}


@pytest.mark.parametrize("label", INGEST_OPS)
def test_ingest_never_answers_5xx(ingest_schema: Any, label: str) -> None:
    failures = fuzz(ingest_schema, label, _credentials(), EXAMPLES)
    assert not failures, "\n".join(failures)


MEDIATOR_OPS = operation_labels(_mediator(Path(os.devnull)), UNFUZZED)


@pytest.mark.parametrize("label", MEDIATOR_OPS)
def test_mediator_never_answers_5xx(mediator_fuzz: MediatorUnderFuzz, label: str) -> None:
    failures = fuzz(mediator_fuzz.schema, label, {"x-api-key": MEDIATOR_KEY}, EXAMPLES)
    assert not failures, "\n".join(failures)
    # whatever the generated module names, only configured addresses were ever asked
    assert set(mediator_fuzz.asked) <= mediator_fuzz.allowed


def test_every_ingest_route_is_fuzzed() -> None:
    """The list is the app's OpenAPI: the user API, digest and Telegram routes are all in."""
    prefixes = {label.split(" ", 1)[1].split("/")[2] for label in INGEST_OPS}
    assert {"events", "recipients", "inbox", "preferences", "subscriptions"} <= prefixes
    assert {"digest", "telegram"} <= prefixes
    assert MEDIATOR_OPS == ["POST /v1/permissions/check", "POST /v1/permissions/invalidate"]
