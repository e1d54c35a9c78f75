"""The unit tier: pure logic, no database, no broker, in seconds (``make unit``).

Every test here is marked ``unit``. A test that opens a connection to PostgreSQL or RabbitMQ
fails, even when the code under test swallowed the refusal: it belongs in tests/integration.
"""

from __future__ import annotations

import socket
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.infra import TEST_AMQP_URL, TEST_DATABASE_URL

HERE = Path(__file__).parent


def _servers() -> dict[int, str]:
    """Port -> server, for the test servers and the default ports of both."""
    servers = {5432: "PostgreSQL", 5672: "RabbitMQ"}
    for url, name in ((TEST_DATABASE_URL, "PostgreSQL"), (TEST_AMQP_URL, "RabbitMQ")):
        port = urlsplit(url).port
        if port is not None:
            servers[port] = name
    return servers


SERVERS = _servers()
_opened: list[str] = []  # what the running unit test tried to reach


class ServerConnectionInUnitTest(RuntimeError):
    """A unit test reached for PostgreSQL or RabbitMQ."""


def _server_of(address: Any) -> str | None:
    if isinstance(address, tuple) and len(address) >= 2 and address[1] in SERVERS:
        return f"{SERVERS[address[1]]} at {address[0]}:{address[1]}"
    if isinstance(address, str | bytes) and b".s.PGSQL" in (
        address if isinstance(address, bytes) else address.encode()
    ):
        return f"PostgreSQL at {address!r}"
    return None


def _guarded(original: Any) -> Any:
    def connect(self: socket.socket, address: Any) -> Any:
        server = _server_of(address) if _in_unit_test else None
        if server is not None:
            _opened.append(server)
            raise ServerConnectionInUnitTest(f"a unit test connected to {server}")
        return original(self, address)

    return connect


# asyncio's connections (asyncpg, aio-pika) go through ``socket.connect`` too
_in_unit_test = False
socket.socket.connect = _guarded(socket.socket.connect)  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded(socket.socket.connect_ex)  # type: ignore[method-assign]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.unit)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    """The guard is on while a unit test's fixtures (of every scope) are set up..."""
    _opened.clear()
    return (yield from _guarding(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """...and while it runs. Not at teardown: the session's fixtures (the template database,
    the vhost pool) are torn down after the last test, which may be a unit test."""
    return (yield from _guarding(item))


def _guarding(item: pytest.Item) -> Generator[None, object, object]:
    global _in_unit_test
    _in_unit_test = item.path.is_relative_to(HERE)
    try:
        return (yield)
    finally:
        _in_unit_test = False


@pytest.fixture(autouse=True)
def _no_servers() -> Iterator[None]:
    """Fail the test on a connection to PostgreSQL or RabbitMQ, even one the code under test
    caught (a refused connection may look like a handled outage)."""
    yield
    if _opened:
        reached = ", ".join(sorted(set(_opened)))
        pytest.fail(
            f"unit tests use no servers; this one reached {reached}: move it to tests/integration",
            pytrace=False,
        )
