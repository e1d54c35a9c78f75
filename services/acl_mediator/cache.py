"""Answers cached by every field of the question plus the tenant; grants and denials with
their own TTLs; errors never cached."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final, NamedTuple

from cachetools import TLRUCache

from libs.common.schemas.permissions import PermissionItem

# (tenant, module, project_id, object_type, object_id, user_id)
Key = tuple[str, str, str | None, str, str, str]
TENANT: Final = 0
MODULE: Final = 1
PROJECT: Final = 2
OBJECT_TYPE: Final = 3
OBJECT_ID: Final = 4
USER: Final = 5


class Verdict(NamedTuple):
    read: bool
    write: bool
    error: str | None = None

    @property
    def granted(self) -> bool:
        return self.read or self.write


# the four error-free answers, shared: a cached answer then costs the collector nothing
_ANSWERS = {(r, w): Verdict(r, w) for r in (False, True) for w in (False, True)}


def answer(read: bool, write: bool) -> Verdict:
    return _ANSWERS[(read, write)]


def denied(error: str) -> Verdict:
    """Fail closed: whatever went wrong, the item is neither readable nor writable."""
    return Verdict(False, False, error)


def cache_key(tenant: str, item: PermissionItem) -> Key:
    return (tenant, item.module, item.project_id, item.object_type, item.object_id, item.user_id)


# dicts rather than sets: a dict of untracked keys is untracked by the collector, a set never is
Index = dict[tuple[str, ...], dict[Key, None]]


class _IndexedTLRU(TLRUCache[Key, Verdict, float]):
    """A TLRUCache that also knows each user's and each object's keys, for invalidation.

    Every way an entry leaves (eviction, expiry, deletion) goes through ``__delitem__`` or
    ``expire``, so the indexes never outgrow the cache. Only writes touch them; a warm lookup
    never does. (A scan of 200,000 keys instead would block the loop for about 75 ms.)
    """

    def __init__(
        self, maxsize: int, ttu: Callable[[Key, Verdict, float], float], timer: Callable[[], float]
    ) -> None:
        super().__init__(maxsize, ttu, timer)
        self.by_user: Index = {}
        self.by_object: Index = {}

    def __setitem__(self, key: Key, value: Verdict) -> None:
        super().__setitem__(key, value)
        self.by_user.setdefault(_user(key), {})[key] = None
        self.by_object.setdefault(_object(key), {})[key] = None

    def __delitem__(self, key: Key) -> None:
        self._unindex(key)
        super().__delitem__(key)

    def expire(self, time: float | None = None) -> list[tuple[Key, Verdict]]:
        expired = super().expire(time)
        for key, _ in expired:
            self._unindex(key)
        return expired

    def _unindex(self, key: Key) -> None:
        _drop(self.by_user, _user(key), key)
        _drop(self.by_object, _object(key), key)


def _drop(index: Index, part: tuple[str, ...], key: Key) -> None:
    keys = index.get(part)
    if keys is not None:
        keys.pop(key, None)
        if not keys:
            del index[part]


def _user(key: Key) -> tuple[str, str]:
    return key[TENANT], key[USER]


def _object(key: Key) -> tuple[str, str, str, str]:
    return key[TENANT], key[MODULE], key[OBJECT_TYPE], key[OBJECT_ID]


class PermissionCache:
    def __init__(
        self,
        maxsize: int,
        grant_ttl_s: float,
        deny_ttl_s: float,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        def ttu(_key: Key, verdict: Verdict, now: float) -> float:
            return now + (grant_ttl_s if verdict.granted else deny_ttl_s)

        self._cache = _IndexedTLRU(maxsize, ttu, timer)
        # bumped on every invalidation: a lookup that started before it must not be stored
        self.epoch = 0

    def get(self, key: Key) -> Verdict | None:
        try:
            return self._cache[key]
        except KeyError:
            return None

    def put(self, key: Key, verdict: Verdict, epoch: int) -> None:
        if verdict.error is None and epoch == self.epoch:
            self._cache[key] = verdict

    def __len__(self) -> int:
        return len(self._cache)

    def indexed(self) -> int:
        """Keys the invalidation indexes hold (each live key once per index)."""
        return sum(len(keys) for keys in self._cache.by_user.values())

    def invalidate(self, tenant: str, user_id: str | None, obj: tuple[str, str, str] | None) -> int:
        """Drop the entries of a user, of an object (module, type, id), or of both at once."""
        self.epoch += 1
        if obj is not None:
            keys = set(self._cache.by_object.get((tenant, *obj), ()))
            if user_id is not None:
                keys = {key for key in keys if key[USER] == user_id}
        elif user_id is not None:
            keys = set(self._cache.by_user.get((tenant, user_id), ()))
        else:
            raise ValueError("name a user, an object or both")
        # pop() skips entries already expired: only live answers count as removed
        return sum(1 for key in keys if self._cache.pop(key, None) is not None)
