"""In-process bus with the RabbitMQ bus's semantics (one process only: ``herald dev``, tests)."""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass, field
from typing import Any

from libs.common.bus import topology as t
from libs.common.bus.base import Bus, Consumer, Message, QueueSpec, RawHandler, deliver
from libs.common.runtime.errors import PermanentError

log = logging.getLogger("herald.bus.memory")

FANOUT = {t.BROWSER_EXCHANGE}
DIRECT = {t.WORK_EXCHANGE, t.DLX_EXCHANGE}


@dataclass
class _Queue:
    spec: QueueSpec
    items: asyncio.Queue[Message] = field(default_factory=asyncio.Queue)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class _MemoryConsumer(Consumer):
    def __init__(self, task: asyncio.Task[None]) -> None:
        self._task = task

    async def cancel(self) -> None:
        self._task.cancel()


class MemoryBus(Bus):
    def __init__(self) -> None:
        super().__init__()
        self._queues: dict[str, _Queue] = {}
        self._bindings: list[tuple[str, str, str]] = []  # exchange, key, queue
        self._ids = itertools.count(1)
        self.dead: dict[str, list[Message]] = {}

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        """The broker is shared by every service in the process: closing one client's view
        stops nothing; each consumer is stopped by its own ``cancel()``."""
        return None

    async def ping(self) -> None:
        return None

    async def declare(self, spec: QueueSpec) -> None:
        self._ensure(spec)

    def _ensure(self, spec: QueueSpec) -> _Queue:
        name = spec.name or f"amq.gen-{next(self._ids)}"
        if name not in self._queues:
            self._queues[name] = _Queue(spec)
            for exchange, key in spec.bindings:
                self._bindings.append((exchange, key, name))
        return self._queues[name]

    async def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        *,
        headers: dict[str, Any] | None = None,
        mandatory: bool = False,
        message_id: str | None = None,
    ) -> None:
        targets = [
            q for ex, key, q in self._bindings if ex == exchange and _routes(ex, key, routing_key)
        ]
        if mandatory and not targets:
            raise PermanentError(f"unroutable: no queue bound for {exchange}/{routing_key}")
        for name in targets:
            msg = Message(body, routing_key, exchange, dict(headers or {}), message_id=message_id)
            self._queues[name].items.put_nowait(msg)

    async def consume_raw(self, spec: QueueSpec, handler: RawHandler, prefetch: int) -> Consumer:
        queue = self._ensure(spec)
        gate = asyncio.Semaphore(prefetch)
        limit = spec.delivery_limit or t.DELIVERY_LIMIT

        async def run_one(msg: Message) -> None:
            async def settle(what: str) -> None:
                gate.release()
                if what == "nack":
                    count = msg.delivery_count + 1
                    if count > limit:
                        self.dead.setdefault(queue.spec.name, []).append(msg)
                        return
                    again = Message(
                        msg.body,
                        msg.routing_key,
                        msg.exchange,
                        {**msg.headers, "x-delivery-count": count},
                        True,
                        msg.message_id,
                        msg.user_id,
                    )
                    queue.items.put_nowait(again)
                elif what == "reject":
                    self.dead.setdefault(queue.spec.name, []).append(msg)

            msg._settle = settle
            self.held.take(queue.spec.name, msg)
            await deliver(handler, msg, queue.spec.name)

        async def loop() -> None:
            while True:
                await gate.acquire()
                msg = await queue.items.get()
                task = asyncio.create_task(run_one(msg))
                queue.tasks.add(task)
                task.add_done_callback(queue.tasks.discard)

        task = asyncio.create_task(loop())
        queue.tasks.add(task)
        return _MemoryConsumer(task)


def _routes(exchange: str, binding_key: str, routing_key: str) -> bool:
    if exchange in FANOUT:
        return True
    if exchange in DIRECT:
        return binding_key == routing_key
    return t.topic_matches(binding_key, routing_key)
