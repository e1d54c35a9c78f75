"""The one client every service uses to ask the permissions mediator (DESIGN §9)."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType

import httpx

from libs.common.runtime.errors import TransientError
from libs.common.schemas.permissions import (
    MAX_BATCH,
    CheckRequest,
    CheckResponse,
    InvalidateRequest,
    InvalidateResponse,
    PermissionAnswer,
    PermissionItem,
)


class MediatorUnavailable(TransientError):
    """The mediator could not answer; callers retry later and never act as if allowed."""


class MediatorClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        timeout_s: float = 2.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"X-API-Key": api_key},
            timeout=timeout_s,
            transport=transport,
            follow_redirects=False,
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> MediatorClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def invalidate(
        self,
        tenant: str = "default",
        *,
        user_id: str | None = None,
        module: str | None = None,
        object_type: str | None = None,
        object_id: str | None = None,
    ) -> int:
        """Forget cached answers about a user and/or an object; returns the entries dropped."""
        body = InvalidateRequest(
            tenant=tenant,
            user_id=user_id,
            module=module,
            object_type=object_type,
            object_id=object_id,
        ).model_dump(mode="json", exclude_none=True)
        resp = await self._post("/v1/permissions/invalidate", body)
        try:
            return InvalidateResponse.model_validate_json(resp.content).removed
        except ValueError as exc:
            raise MediatorUnavailable(f"mediator answer malformed: {exc}") from exc

    async def _post(self, path: str, body: dict[str, object]) -> httpx.Response:
        try:
            resp = await self._http.post(path, json=body)
        except httpx.HTTPError as exc:
            raise MediatorUnavailable(f"mediator unreachable: {exc!r}") from exc
        if resp.status_code != 200:
            raise MediatorUnavailable(f"mediator answered {resp.status_code}: {resp.text[:200]}")
        return resp

    async def check(
        self, items: Sequence[PermissionItem], tenant: str = "default"
    ) -> list[PermissionAnswer]:
        """Answers in the order of ``items``; batches over 1,000 are split transparently.

        An item the mediator could not decide comes back denied with ``error`` set; only a
        mediator that cannot answer at all raises ``MediatorUnavailable`` (retry later; never
        act as if allowed)."""
        if not items:
            return []
        answers: list[PermissionAnswer] = []
        for start in range(0, len(items), MAX_BATCH):
            chunk = list(items[start : start + MAX_BATCH])
            answers.extend(await self._check_chunk(chunk, tenant))
        return answers

    async def _check_chunk(
        self, items: list[PermissionItem], tenant: str
    ) -> list[PermissionAnswer]:
        body = CheckRequest(tenant=tenant, items=items).model_dump(mode="json")
        resp = await self._post("/v1/permissions/check", body)
        try:
            parsed = CheckResponse.model_validate_json(resp.content)
        except ValueError as exc:
            raise MediatorUnavailable(f"mediator answer malformed: {exc}") from exc
        if len(parsed.results) != len(items):
            raise MediatorUnavailable(
                f"mediator answered {len(parsed.results)} items for {len(items)}"
            )
        return parsed.results
