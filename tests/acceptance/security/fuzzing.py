"""Schemathesis against our ASGI apps, in-process: a database of its own per module, the apps'
real lifespans (run by schemathesis' ASGI transport on its own event loop thread), and a real
module backend for the mediator on a loopback port.

The tests are plain (sync) functions: schemathesis drives the app from its own thread, so
nothing here touches pytest-asyncio's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import hypothesis
import schemathesis
import uvicorn
from fastapi import FastAPI
from schemathesis import GenerationMode
from schemathesis.python import asgi as st_asgi

from tests.infra import (
    TEST_DATABASE_URL,
    create_database,
    drop_database,
    unique_name,
    with_database,
)

# Per operation and generation mode. Bounded so the whole security suite stays near 2 minutes
# on the shared 2-core machine; raise it locally with HERALD_FUZZ_EXAMPLES for a deeper run.
DEFAULT_EXAMPLES = 25
SERVER_START_S = 10.0


def _in_thread(fn: Any) -> Any:
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn).result()


@contextmanager
def scratch_database(template: str) -> Iterator[str]:
    """A migrated, seeded database copied from the session template; dropped afterwards."""
    name = unique_name("herald_fuzz")
    _in_thread(lambda: asyncio.run(create_database(name, template=template)))
    try:
        yield with_database(TEST_DATABASE_URL, name)
    finally:
        _in_thread(lambda: asyncio.run(drop_database(name)))


@contextmanager
def loaded_schema(app: FastAPI) -> Iterator[Any]:
    """The app's OpenAPI as schemathesis sees it; its lifespan runs until we leave."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    try:
        yield schema
    finally:
        st_asgi.shutdown_lifespans()


@contextmanager
def threaded_server(app: FastAPI) -> Iterator[str]:
    """A real uvicorn server on 127.0.0.1:<ephemeral> in a thread of its own."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START_S
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("module backend did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(SERVER_START_S)


def operation_labels(app: FastAPI, skip: frozenset[str] = frozenset()) -> list[str]:
    """``METHOD /path`` of every operation in the app's OpenAPI (no lifespan needed)."""
    return [
        f"{method.upper()} {path}"
        for path, ops in app.openapi()["paths"].items()
        for method in ops
        if f"{method.upper()} {path}" not in skip
    ]


def fuzz(schema: Any, label: str, headers: dict[str, str], examples: int) -> list[str]:
    """Positive and negative inputs for one operation; every response that is a 5xx, as
    ``curl`` commands with the status and body, so a failure can be replayed by hand."""
    operation = schema.find_operation_by_label(label)
    assert operation is not None, label
    # a body or parameter schemathesis cannot read (a dangling $ref) would go unfuzzed
    assert not operation.skipped_parameters, f"{label}: {operation.skipped_parameters}"
    failures: list[str] = []
    calls = _fuzz_mode(operation, GenerationMode.POSITIVE, headers, examples, failures)
    assert calls, f"{label}: no request was generated"
    # Unsatisfiable: nothing to make invalid (no parameters, no body); positive covered it
    with contextlib.suppress(hypothesis.errors.Unsatisfiable):
        _fuzz_mode(operation, GenerationMode.NEGATIVE, headers, examples, failures)
    return failures


def _fuzz_mode(
    operation: Any, mode: GenerationMode, headers: dict[str, str], examples: int, out: list[str]
) -> int:
    calls = 0

    @hypothesis.given(case=operation.as_strategy(mode, headers=headers))
    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,  # no .hypothesis/ directory in the work tree
        suppress_health_check=list(hypothesis.HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    def run(case: Any) -> None:
        nonlocal calls
        calls += 1
        try:  # in-process, the app's exception surfaces here after its 500 was sent
            response = case.call()
        except Exception as exc:
            out.append(f"{mode.value}: {case.as_curl_command()} -> {exc!r:.400}")
            return
        if response.status_code >= 500:
            out.append(
                f"{mode.value}: {case.as_curl_command()} -> {response.status_code} "
                f"{response.text[:300]}"
            )

    run()
    return calls
