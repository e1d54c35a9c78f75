"""The cache key holds every field plus the tenant; grants outlive denials; errors are never
cached; invalidation drops what it names and nothing else."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from libs.common.schemas.permissions import PermissionItem
from services.acl_mediator.cache import PermissionCache, Verdict, cache_key, denied

FIELDS = ["tenant", "module", "project_id", "object_type", "object_id", "user_id"]
text = st.text(min_size=1, max_size=20)


def key_of(values: dict[str, Any]) -> tuple[Any, ...]:
    fields = {k: v for k, v in values.items() if k != "tenant"}
    return cache_key(values["tenant"], PermissionItem(**fields))


@given(
    values=st.fixed_dictionaries(
        {
            "tenant": text,
            "module": text,
            "project_id": st.none() | text,
            "object_type": text,
            "object_id": text,
            "user_id": text,
        }
    ),
    field=st.sampled_from(FIELDS),
    replacement=st.none() | text,
)
def test_changing_any_one_field_changes_the_key(
    values: dict[str, Any], field: str, replacement: str | None
) -> None:
    if replacement is None and field != "project_id":
        replacement = (values[field] or "") + "x"
    if replacement == values[field]:
        return
    changed = {**values, field: replacement}
    assert key_of(changed) != key_of(values)
    assert key_of(dict(values)) == key_of(values)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def key(user: str = "u-1", obj: str = "T-1", tenant: str = "default") -> Any:
    return (tenant, "tenders", "P-42", "tender", obj, user)


def test_grants_outlive_denials() -> None:
    clock = Clock()
    cache = PermissionCache(100, grant_ttl_s=30, deny_ttl_s=5, timer=clock)
    cache.put(key("granted"), Verdict(True, False), cache.epoch)
    cache.put(key("denied"), Verdict(False, False), cache.epoch)
    clock.now += 4.9
    assert cache.get(key("denied")) == Verdict(False, False)
    clock.now += 0.2
    assert cache.get(key("denied")) is None
    assert cache.get(key("granted")) == Verdict(True, False)
    clock.now += 25
    assert cache.get(key("granted")) is None


def test_errors_are_never_cached() -> None:
    cache = PermissionCache(100, 30, 5)
    cache.put(key(), denied("module tenders: timed out"), cache.epoch)
    assert cache.get(key()) is None and len(cache) == 0


def test_answers_from_before_an_invalidation_are_not_stored() -> None:
    cache = PermissionCache(100, 30, 5)
    started = cache.epoch
    cache.invalidate("default", "u-1", None)
    cache.put(key(), Verdict(True, True), started)
    assert cache.get(key()) is None


def test_invalidation_drops_only_what_it_names() -> None:
    cache = PermissionCache(100, 30, 5)
    entries = [key("u-1", "T-1"), key("u-1", "T-2"), key("u-2", "T-1"), key("u-1", "T-1", "acme")]
    for entry in entries:
        cache.put(entry, Verdict(True, True), cache.epoch)
    assert cache.invalidate("default", "u-1", ("tenders", "tender", "T-1")) == 1
    assert cache.invalidate("default", None, ("tenders", "tender", "T-1")) == 1
    assert cache.invalidate("default", "u-1", None) == 1
    assert cache.get(key("u-1", "T-1", "acme")) == Verdict(True, True)
    assert len(cache) == 1


def test_size_is_bounded() -> None:
    cache = PermissionCache(10, 30, 5)
    for i in range(50):
        cache.put(key(f"u-{i}"), Verdict(True, False), cache.epoch)
    assert len(cache) == 10


def test_invalidation_indexes_follow_evictions_and_expiry() -> None:
    clock = Clock()
    cache = PermissionCache(10, grant_ttl_s=30, deny_ttl_s=5, timer=clock)
    for i in range(50):
        cache.put(key(f"u-{i}"), Verdict(True, False), cache.epoch)
    assert cache.indexed() == len(cache) == 10
    cache.put(key("denied"), Verdict(False, False), cache.epoch)
    clock.now += 6
    cache.put(key("late"), Verdict(True, True), cache.epoch)  # a write expires the denial
    assert cache.indexed() == len(cache) == 10
    assert cache.invalidate("default", "denied", None) == 0
    assert cache.invalidate("default", "late", None) == 1
    assert cache.indexed() == len(cache) == 9
