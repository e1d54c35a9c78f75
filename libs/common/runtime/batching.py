"""Micro-batching: what is waiting now, up to a batch; and a failed batch's culprit found.

Quiet: one item goes alone, without delay. Busy: everything already queued is taken at once,
and the batch lingers at most ``linger_s`` for more, so one commit (ingest) or one transaction
(processor) serves many items and the batch size follows the load.

A batch that fails is rolled back and its items run again one by one (``batch_then_isolate``,
``isolate``), so a failure is charged to the one item that caused it and the others go
through: ingest's stored messages, the processor's events, the digest scheduler's schedules.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


async def take_batch(queue: asyncio.Queue[T], max_items: int, linger_s: float) -> list[T]:
    """Wait for one item, then take up to ``max_items`` in all, lingering at most
    ``linger_s`` after the first."""
    batch = [await queue.get()]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + linger_s
    while len(batch) < max_items:
        if not queue.empty():
            batch.append(queue.get_nowait())
            continue
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        try:
            batch.append(await asyncio.wait_for(queue.get(), remaining))
        except TimeoutError:
            break
    return batch


async def batch_then_isolate(
    items: Sequence[T],
    run: Callable[[Sequence[T]], Awaitable[object]],
    failed: Callable[[T, Exception], Awaitable[None]],
    *,
    splitting: Callable[[int, Exception], None] | None = None,
    stop_on: tuple[type[Exception], ...] = (),
) -> None:
    """``run(items)`` as one batch; if that raises, ``isolate`` the culprit with
    ``run([item])`` for each item alone."""
    try:
        await run(items)
    except stop_on:
        raise
    except Exception as exc:
        await isolate(
            items, exc, lambda item: run([item]), failed, splitting=splitting, stop_on=stop_on
        )


async def isolate(
    items: Sequence[T],
    error: Exception,
    run_one: Callable[[T], Awaitable[object]],
    failed: Callable[[T, Exception], Awaitable[None]],
    *,
    splitting: Callable[[int, Exception], None] | None = None,
    stop_on: tuple[type[Exception], ...] = (),
) -> None:
    """``items`` failed together with ``error`` (rolled back). One item is the culprit:
    ``failed(item, error)``. Several: ``splitting(len(items), error)`` is told, then each item
    runs alone; one that raises goes to ``failed`` and the walk goes on. ``failed`` runs inside
    the ``except`` (a logged traceback is the item's). An exception of ``stop_on``, or one that
    ``failed`` raises, ends the walk and propagates."""
    if len(items) == 1:
        await failed(items[0], error)
        return
    if splitting is not None:
        splitting(len(items), error)
    for item in items:
        try:
            await run_one(item)
        except stop_on:
            raise
        except Exception as exc:
            await failed(item, exc)
