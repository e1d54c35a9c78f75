"""A real JWKS endpoint on port 0 whose key set a test rotates while the services run.

Keys are RSA (RS256, the family a JWKS URL serves); the server counts the fetches it answered
so a test can see the refetch rate limit, and can be switched to answer 500 ("the key server
is down") without losing its keys.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.apps import JWT_AUDIENCE, JWT_ISSUER

RSA_BITS = 2048


@cache
def private_key(kid: str) -> rsa.RSAPrivateKey:
    """One key per kid for the whole run: RSA generation costs ~50 ms a key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)


def public_jwk(kid: str) -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private_key(kid).public_key()))
    return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}


def signed(kid: str, user: str = "alice", signer: str | None = None) -> str:
    """A good RS256 token naming ``kid``, signed by the key of ``signer`` (default: kid)."""
    now = int(time.time())
    claims = {
        "sub": user, "tenant": "default", "aud": JWT_AUDIENCE, "iss": JWT_ISSUER,
        "iat": now, "exp": now + 600,
    }  # fmt: skip
    key = private_key(signer or kid)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


class KeyServer:
    def __init__(self, kids: list[str]) -> None:
        self.kids = list(kids)
        self.fetches = 0
        self.down = False  # answer 500 instead of the key set
        self._lock = threading.Lock()
        self.url = ""

    def publish(self, *kids: str) -> None:
        """Replace the served key set (a rotation: add the new key, later drop the old)."""
        with self._lock:
            self.kids = list(kids)

    def settings(self, **over: Any) -> dict[str, Any]:
        """JwtSettings fields for a service verifying RS256 tokens against this server."""
        return {"jwt_algorithms": ["RS256"], "jwt_secret": None, "jwt_jwks_url": self.url, **over}

    def _answer(self) -> tuple[int, bytes]:
        with self._lock:
            self.fetches += 1
            if self.down:
                return 500, b'{"error":"down"}'
            return 200, json.dumps({"keys": [public_jwk(k) for k in self.kids]}).encode()


@contextmanager
def json_server(answer: Callable[[], tuple[int, bytes]]) -> Iterator[str]:
    """A real HTTP server on port 0 answering every GET with ``answer()``; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = answer()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def key_server(*kids: str) -> Iterator[KeyServer]:
    keys = KeyServer(list(kids))
    with json_server(keys._answer) as url:
        keys.url = url
        yield keys
