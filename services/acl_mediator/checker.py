"""A batch of questions → answers: cache first, then one upstream call per module (chunked),
all modules concurrently, with identical questions in flight answered by one lookup."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import cast

from libs.common.schemas.permissions import PermissionItem
from services.acl_mediator import metrics
from services.acl_mediator.cache import MODULE, Key, PermissionCache, Verdict, cache_key, denied
from services.acl_mediator.upstream import ModuleBackend

log = logging.getLogger("herald.acl_mediator")

# one upstream call's answers, shared by every batch waiting on any of its questions
Lookup = asyncio.Future[dict[Key, Verdict]]


Backends = Mapping[tuple[str, str | None], ModuleBackend]  # (module, tenant or None)


class Checker:
    """``backends``: a module's own (module, None) and a tenant's own (module, tenant), which
    its items go to instead (DESIGN §15). Cache keys and lookups in flight carry the tenant,
    so one tenant's answer never serves another."""

    def __init__(self, cache: PermissionCache, backends: Backends) -> None:
        self.cache = cache
        self._backends = backends
        self._inflight: dict[Key, Lookup] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._hits = 0
        self._checked = 0
        metrics.CACHE_HIT_RATIO.set_function(self.hit_ratio)
        metrics.CACHE_ENTRIES.set_function(lambda: len(self.cache))

    def hit_ratio(self) -> float:
        return self._hits / self._checked if self._checked else 0.0

    async def check(self, tenant: str, items: Sequence[PermissionItem]) -> list[Verdict]:
        """Verdicts in the order of ``items``."""
        get = self.cache.get
        keys = [cache_key(tenant, item) for item in items]
        verdicts = [get(key) for key in keys]
        missing = [i for i, v in enumerate(verdicts) if v is None]
        self._count(len(keys), len(keys) - len(missing))
        if missing:
            await self._fill(tenant, keys, verdicts, missing)
        return cast(list[Verdict], verdicts)  # _fill leaves no None behind

    def _count(self, checked: int, hits: int) -> None:
        self._checked += checked
        self._hits += hits
        if hits:
            metrics.FROM_CACHE.inc(hits)

    async def _fill(
        self, tenant: str, keys: list[Key], verdicts: list[Verdict | None], missing: list[int]
    ) -> None:
        to_fetch: dict[str, list[Key]] = {}
        coalesced = 0
        for i in missing:
            key = keys[i]
            if self._backend(key[MODULE], tenant) is None:
                verdicts[i] = denied(f"unknown module {key[MODULE][:64]!r}")
                metrics.UNKNOWN_MODULE.inc()
            elif key in self._inflight:
                coalesced += 1
            else:
                to_fetch.setdefault(key[MODULE], []).append(key)
        for module, module_keys in to_fetch.items():
            self._start_fetches(module, tenant, module_keys)
        metrics.COALESCED.inc(coalesced)
        waits = {i: self._inflight[keys[i]] for i in missing if verdicts[i] is None}
        if waits:
            # few futures (one per upstream call), and wait() never cancels them: other
            # batches may be waiting on the same lookups
            await asyncio.wait(set(waits.values()))
        for i, lookup in waits.items():
            verdicts[i] = lookup.result()[keys[i]]

    def _backend(self, module: str, tenant: str) -> ModuleBackend | None:
        return self._backends.get((module, tenant)) or self._backends.get((module, None))

    def _start_fetches(self, module: str, tenant: str, keys: list[Key]) -> None:
        backend = self._backend(module, tenant)
        assert backend is not None  # _fill answered the unknown ones
        loop = asyncio.get_running_loop()
        unique = list(dict.fromkeys(keys))
        metrics.FROM_UPSTREAM.inc(len(unique))
        for start in range(0, len(unique), backend.max_batch):
            chunk = unique[start : start + backend.max_batch]
            lookup: Lookup = loop.create_future()
            for key in chunk:
                self._inflight[key] = lookup
            # a task of its own: a caller that disconnects does not cancel others' answers
            task = loop.create_task(self._fetch(backend, tenant, chunk, lookup, self.cache.epoch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _fetch(
        self, backend: ModuleBackend, tenant: str, keys: list[Key], lookup: Lookup, epoch: int
    ) -> None:
        verdicts: list[Verdict] = []
        try:
            verdicts = await backend.check(tenant, keys)
        except Exception:  # a bug here must still answer every waiter, and deny
            log.exception("permission lookup failed in module %s", backend.name)
        finally:
            self._settle(keys, verdicts, lookup, epoch)

    def _settle(self, keys: list[Key], verdicts: list[Verdict], lookup: Lookup, epoch: int) -> None:
        if len(verdicts) != len(keys):  # an exception or a cancellation at shutdown
            verdicts = [denied("internal error while asking the module")] * len(keys)
        answers = dict(zip(keys, verdicts, strict=True))
        lookup.set_result(answers)
        # store after the waiters have run: their answers do not wait for 100 cache writes
        # (the epoch was taken before the call, so a later invalidation still wins)
        asyncio.get_running_loop().call_soon(self._store, answers, lookup, epoch)

    def _store(self, answers: dict[Key, Verdict], lookup: Lookup, epoch: int) -> None:
        for key, verdict in answers.items():
            self.cache.put(key, verdict, epoch)
            # only our own entry: after an invalidation a newer lookup may own this key
            if self._inflight.get(key) is lookup:
                del self._inflight[key]

    def invalidate(self, tenant: str, user_id: str | None, obj: tuple[str, str, str] | None) -> int:
        """Drop cached answers; lookups in flight are neither cached nor joined afterwards."""
        removed = self.cache.invalidate(tenant, user_id, obj)
        self._inflight.clear()
        metrics.INVALIDATIONS.inc(removed)
        return removed

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
