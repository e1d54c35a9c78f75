"""Micro-batching from an ``asyncio.Queue``: what is waiting now, up to a batch.

Quiet: one item goes alone, without delay. Busy: everything already queued is taken at once,
and the batch lingers at most ``linger_s`` for more, so one commit (ingest) or one transaction
(processor) serves many items and the batch size follows the load.
"""

from __future__ import annotations

import asyncio
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
