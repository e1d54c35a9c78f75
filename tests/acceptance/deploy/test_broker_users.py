"""compose's broker-users step (deploy/broker_users.py) asks RabbitMQ's management API for
least-privilege producer users: checked against a real local HTTP server recording the calls
(the management plugin is not part of the test broker)."""

from __future__ import annotations

import base64
import importlib.util
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "deploy" / "broker_users.py"


@pytest.fixture
def management() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    calls: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            calls.append({"path": self.path, "auth": self.headers["Authorization"], "body": body})
            self.send_response(201)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", calls
    finally:
        server.shutdown()
        server.server_close()


def test_each_producer_may_write_to_herald_events_only(
    management: tuple[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, calls = management
    for name, value in {
        "RABBITMQ_MANAGEMENT_URL": url,
        "RABBITMQ_USER": "herald",
        "RABBITMQ_PASSWORD": "pw",
        "BROKER_PRODUCERS": json.dumps({"tenders": "t-secret", "design/x": "d-secret"}),
    }.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("broker_users", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main()

    admin = "Basic " + base64.b64encode(b"herald:pw").decode()
    assert all(call["auth"] == admin for call in calls)
    least = {"configure": "^$", "write": r"^herald\.events$", "read": "^$"}
    assert [(c["path"], c["body"]) for c in calls] == [
        ("/api/users/tenders", {"password": "t-secret", "tags": ""}),
        ("/api/permissions/%2F/tenders", least),
        ("/api/users/design%2Fx", {"password": "d-secret", "tags": ""}),
        ("/api/permissions/%2F/design%2Fx", least),
    ]
