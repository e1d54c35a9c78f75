"""RabbitMQ vhosts for tests, a fresh one per test without a ``rabbitmqctl`` per test.

Each test that asks for a broker still gets a vhost nobody used before (exchanges named
``herald.*`` and the queues behind them never meet another test's), but the vhosts are made
``BATCH`` at a time by one ``rabbitmqctl eval`` (per vhost, the two calls ``rabbitmqctl
add_vhost`` and ``set_permissions`` make, each returning once done) and deleted ``BATCH`` at
a time by another once their tests are over: two ``rabbitmqctl`` runs per ``BATCH`` tests
instead of three per test (each run starts an Erlang VM: about 0.5 s of CPU on the 2-core
test box). A broker whose internals differ falls back to the plain commands, one by one.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from urllib.parse import quote, unquote, urlsplit, urlunsplit

BATCH = 8  # vhosts made, and deleted, per rabbitmqctl run
TIMEOUT_S = 120
ACTING_USER = "herald-tests"  # recorded by the broker as who made and deleted them
SAFE = re.compile(r"[\w.*@-]+")  # names spliced into Erlang terms


def rabbitmqctl(*args: str) -> str:
    ctl = shutil.which("rabbitmqctl")
    if ctl is None:
        raise RuntimeError("rabbitmqctl is needed to create the tests' vhosts")
    done = subprocess.run([ctl, "-q", *args], check=True, capture_output=True, timeout=TIMEOUT_S)
    return done.stdout.decode()


def _erlang_binary(text: str) -> str:
    if not SAFE.fullmatch(text):
        raise ValueError(f"not a plain name: {text!r}")
    return f'<<"{text}">>'


def _erlang_list(names: list[str]) -> str:
    return "[" + ", ".join(_erlang_binary(name) for name in names) + "]"


class VhostPool:
    """Fresh vhosts on the broker of ``amqp_url``, logged in as its user."""

    def __init__(self, amqp_url: str, prefix: str) -> None:
        self._url, self._prefix = amqp_url, prefix
        self._user = unquote(urlsplit(amqp_url).username or "guest")
        self._made = 0
        self._fresh: list[str] = []
        self._used: list[str] = []
        self._lock = threading.Lock()

    def take(self) -> str:
        """A vhost no test used yet; its AMQP URL."""
        with self._lock:
            if not self._fresh:
                self._make(BATCH)
            name = self._fresh.pop()
        parts = urlsplit(self._url)
        return urlunsplit((parts.scheme, parts.netloc, "/" + quote(name, safe=""), parts.query, ""))

    def give_back(self, url: str) -> None:
        """Done with it: deleted with the next batch."""
        with self._lock:
            self._used.append(unquote(urlsplit(url).path[1:]))
            if len(self._used) >= BATCH:
                self._delete(self._used)
                self._used = []

    def close(self) -> None:
        with self._lock:
            self._delete(self._used + self._fresh)
            self._used, self._fresh = [], []

    def _make(self, count: int) -> None:
        names = [f"{self._prefix}_{self._made + n}" for n in range(count)]
        user, acting = _erlang_binary(self._user), _erlang_binary(ACTING_USER)
        everything = _erlang_binary(".*")
        try:  # one Erlang VM for all of them; both calls return once the vhost is up
            rabbitmqctl(
                "eval",
                f"[begin ok = rabbit_vhost:add(V, {acting}), "
                f"ok = rabbit_auth_backend_internal:set_permissions({user}, V, {everything}, "
                f"{everything}, {everything}, {acting}) end || V <- {_erlang_list(names)}], ok.",
            )
        except subprocess.CalledProcessError:  # a broker without these functions: one by one
            for name in names:
                rabbitmqctl("add_vhost", name)
                rabbitmqctl("set_permissions", "-p", name, self._user, ".*", ".*", ".*")
        self._made += count
        self._fresh.extend(reversed(names))

    def _delete(self, names: list[str]) -> None:
        if not names:
            return
        try:  # one Erlang VM for all of them
            rabbitmqctl(
                "eval",
                f"lists:foreach(fun(V) -> rabbit_vhost:delete(V, {_erlang_binary(ACTING_USER)}) "
                f"end, {_erlang_list(names)}).",
            )
        except subprocess.CalledProcessError:  # a broker without that function: one by one
            for name in names:
                rabbitmqctl("delete_vhost", name)
