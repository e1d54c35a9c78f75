"""What a service's lifespan keeps on ``app.state``, read by a handler as a typed dependency.

``Annotated[Settings, Depends(from_state("settings", Settings))]``: the handler names what it
uses instead of reaching into the untyped ``request.app.state``. The read is ``async`` although
it awaits nothing: FastAPI runs a plain ``def`` dependency in a worker thread, a thread hop per
request for an attribute read.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar, cast

from fastapi import Request

T = TypeVar("T")


def from_state(name: str, kind: type[T]) -> Callable[[Request], Awaitable[T]]:
    """The dependency that returns ``request.app.state.<name>``, typed as a ``kind`` (the
    lifespan stored it; not checked per request)."""

    async def read(request: Request) -> T:
        return cast(T, getattr(request.app.state, name))

    read.__name__ = f"_{name}"
    return read
