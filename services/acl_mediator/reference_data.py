"""Where the reference module backend learns who owns an object and who manages whom.

* ``StaticDirectory`` — a YAML file (tests, examples);
* ``HeraldDirectory`` — Herald's own database: managers from ``recipients.manager_id``, and the
  people of an object are those named in the stored events about it (actor and recipients).
  ``herald dev`` uses this one, so any event emitted there has sensible rights.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, tuple_

from libs.common.db.engine import make_engine, make_sessionmaker
from libs.common.db.models import Event, EventStatus, Recipient

ObjectRef = tuple[str, str]  # (object_type, object_id) within one tenant and module


@dataclass(frozen=True)
class Snapshot:
    owners: Mapping[ObjectRef, frozenset[str]] = field(default_factory=dict)
    managers: Mapping[str, str] = field(default_factory=dict)  # user → their manager


class Directory(Protocol):
    async def snapshot(self, tenant: str, module: str, refs: set[ObjectRef]) -> Snapshot: ...

    async def close(self) -> None: ...


class _Object(BaseModel):
    model_config = ConfigDict(extra="forbid")
    module: str
    object_type: str
    object_id: str
    owners: list[str] = Field(min_length=1)


class _Tenant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    managers: dict[str, str] = Field(default_factory=dict)
    objects: list[_Object] = Field(default_factory=list)


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenants: dict[str, _Tenant]


class StaticDirectory:
    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = _File.model_validate(data).tenants

    @classmethod
    def from_file(cls, path: Path) -> StaticDirectory:
        return cls(yaml.safe_load(path.read_text(encoding="utf-8")))

    async def snapshot(self, tenant: str, module: str, refs: set[ObjectRef]) -> Snapshot:
        data = self._data.get(tenant)
        if data is None:
            return Snapshot()
        owners = {
            (o.object_type, o.object_id): frozenset(o.owners)
            for o in data.objects
            if o.module == module and (o.object_type, o.object_id) in refs
        }
        return Snapshot(owners, data.managers)

    async def close(self) -> None:
        return None


class HeraldDirectory:
    def __init__(self, database_url: str) -> None:
        self._engine = make_engine(database_url, pool_size=2)
        self._sessions = make_sessionmaker(self._engine)

    async def snapshot(self, tenant: str, module: str, refs: set[ObjectRef]) -> Snapshot:
        async with self._sessions() as session:
            bodies = await session.scalars(
                select(Event.body).where(
                    Event.tenant == tenant,
                    Event.source == module,
                    Event.status != EventStatus.REJECTED,
                    tuple_(Event.entity_type, Event.entity_id).in_(list(refs)),
                )
            )
            people = await session.execute(
                select(Recipient.user_id, Recipient.manager_id).where(
                    Recipient.tenant == tenant, Recipient.manager_id.is_not(None)
                )
            )
            managers = {user: manager for user, manager in people if manager}
            return Snapshot(_owners_from_events(bodies), managers)

    async def close(self) -> None:
        await self._engine.dispose()


def _owners_from_events(bodies: Iterable[dict[str, Any] | None]) -> dict[ObjectRef, frozenset[str]]:
    found: dict[ObjectRef, set[str]] = {}
    for body in bodies:
        entity = (body or {}).get("entity") or {}
        ref = (str(entity.get("type")), str(entity.get("id")))
        found.setdefault(ref, set()).update(_people_named(body or {}))
    return {ref: frozenset(users) for ref, users in found.items()}


def _people_named(body: Mapping[str, Any]) -> set[str]:
    people: set[str] = set()
    actor = (body.get("actor") or {}).get("id")
    if isinstance(actor, str):
        people.add(actor)
    for users in (body.get("recipients") or {}).values():
        if isinstance(users, list):
            people.update(u for u in users if isinstance(u, str))
    return people
