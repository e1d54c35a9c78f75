"""Calls to one module backend: ``POST <base_url>/permissions/check`` (docs/permissions.md).

Every way a call can go wrong ends as a per-item denial with the reason; nothing here raises
to the caller, and nothing here ever turns a doubt into an allow.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import aiohttp

from libs.common.schemas.permissions import UPSTREAM_CHECK_PATH
from services.acl_mediator import metrics
from services.acl_mediator.cache import (
    OBJECT_ID,
    OBJECT_TYPE,
    PROJECT,
    USER,
    Key,
    Verdict,
    answer,
    denied,
)
from services.acl_mediator.modules import ModuleConfig

KEEPALIVE_S = 30.0
# 1,000 answers take about 60 KB; a module sending far more is broken, not slow
MAX_ANSWER_BYTES = 4 * 1024 * 1024
READ_CHUNK = 64 * 1024


class AnswerTooLarge(Exception):
    pass


class ModuleBackend:
    """One pooled client per module; its address is fixed at start and redirects are refused.

    aiohttp rather than httpx here: on the cold path the mediator makes one call per module
    per batch, and httpx's per-call overhead (about 3 ms under load, against 1 ms) was most of
    a cold batch's latency beside 5 ms backends (bench/acl)."""

    def __init__(
        self,
        name: str,
        config: ModuleConfig,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
    ) -> None:
        if config.base_url is None:
            raise ValueError(f"module {name}: no base_url here (only tenants' own)")
        self.name = name
        self.max_batch = config.max_batch
        self._url = config.base_url + UPSTREAM_CHECK_PATH
        connector = aiohttp.TCPConnector(
            limit=config.max_connections, keepalive_timeout=KEEPALIVE_S
        )
        self._http = aiohttp.ClientSession(
            connector=connector,
            headers=config.headers(),
            timeout=aiohttp.ClientTimeout(total=config.timeout_s),
            trust_env=False,  # no proxy or netrc from the environment changes where we go
            trace_configs=list(trace_configs),
            json_serialize=json.dumps,
        )

    async def close(self) -> None:
        await self._http.close()

    async def check(self, tenant: str, keys: Sequence[Key]) -> list[Verdict]:
        """One upstream call for ``keys`` (all of this module); verdicts in the same order."""
        started = time.perf_counter()
        outcome, verdicts = await self._call(tenant, keys)
        metrics.UPSTREAM_SECONDS.labels(self.name).observe(time.perf_counter() - started)
        metrics.UPSTREAM_CALLS.labels(self.name, outcome).inc()
        return verdicts

    async def _call(self, tenant: str, keys: Sequence[Key]) -> tuple[str, list[Verdict]]:
        body = {"tenant": tenant, "module": self.name, "items": _wire_items(keys)}
        try:
            # a redirect is an error, never a new address
            async with self._http.post(self._url, json=body, allow_redirects=False) as resp:
                if resp.status != 200:
                    reason = f"module {self.name}: answered HTTP {resp.status}"
                    return "http_error", self._fail(keys, "http_status", reason)
                content = await _read_capped(resp)
        except TimeoutError:
            return "timeout", self._fail(keys, "timeout", f"module {self.name}: timed out")
        except AnswerTooLarge:
            reason = f"module {self.name}: malformed answer (over {MAX_ANSWER_BYTES} bytes)"
            return "malformed", self._fail(keys, "malformed", reason)
        except aiohttp.ClientError as exc:
            reason = f"module {self.name}: unreachable ({type(exc).__name__})"
            return "unreachable", self._fail(keys, "unreachable", reason)
        return self._read_answer(content, keys)

    def _read_answer(self, content: bytes, keys: Sequence[Key]) -> tuple[str, list[Verdict]]:
        try:
            answers = _answers_by_id(json.loads(content), len(keys))
        except (ValueError, TypeError) as exc:
            reason = f"module {self.name}: malformed answer ({exc})"
            return "malformed", self._fail(keys, "malformed", reason)
        verdicts = [
            answers.get(i) or denied(f"module {self.name}: no answer for this item")
            for i in range(len(keys))
        ]
        missing = sum(1 for i in range(len(keys)) if i not in answers)
        self._count_errors(verdicts, missing)
        return ("partial" if missing else "ok"), verdicts

    def _fail(self, keys: Sequence[Key], kind: str, reason: str) -> list[Verdict]:
        metrics.ITEM_ERRORS.labels(self.name, kind).inc(len(keys))
        return [denied(reason)] * len(keys)

    def _count_errors(self, verdicts: list[Verdict], missing: int) -> None:
        if missing:
            metrics.ITEM_ERRORS.labels(self.name, "missing").inc(missing)
        reported = sum(1 for v in verdicts if v.error is not None) - missing
        if reported:
            metrics.ITEM_ERRORS.labels(self.name, "module_error").inc(reported)


async def _read_capped(resp: aiohttp.ClientResponse) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await resp.content.read(READ_CHUNK):
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise AnswerTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _wire_items(keys: Sequence[Key]) -> list[dict[str, Any]]:
    return [
        {
            "id": i,
            "project_id": key[PROJECT],
            "object_type": key[OBJECT_TYPE],
            "object_id": key[OBJECT_ID],
            "user_id": key[USER],
        }
        for i, key in enumerate(keys)
    ]


def _answers_by_id(data: Any, count: int) -> dict[int, Verdict]:
    """Answers keyed by the echoed id. An answer that is not exactly right is dropped (the item
    then counts as missing); two answers for one id make that item an error."""
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise ValueError('expected {"results": [...]}')
    found: dict[int, Verdict] = {}
    seen_twice: set[int] = set()
    for raw in data["results"]:
        parsed = _one_answer(raw, count)
        if parsed is None:
            continue
        ident, verdict = parsed
        if ident in found:
            seen_twice.add(ident)
        found[ident] = verdict
    for ident in seen_twice:
        found[ident] = denied("module answered this item twice")
    return found


def _one_answer(raw: Any, count: int) -> tuple[int, Verdict] | None:
    if not isinstance(raw, dict):
        return None
    ident, read, write, error = (raw.get(k) for k in ("id", "read", "write", "error"))
    # bool is an int subclass: a "true" id, or a 1 for read, is not accepted
    if type(ident) is not int or not 0 <= ident < count:
        return None
    if type(read) is not bool or type(write) is not bool:
        return None
    if error is not None:
        return ident, denied(f"module error: {str(error)[:200]}")
    return ident, answer(read, write)
