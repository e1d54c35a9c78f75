"""The fault plan (from a seeded RNG) and the injector that carries it out.

A plan is a list of faults at offsets into the load: SIGKILL a service and start it again
after a short downtime, restart RabbitMQ (a clean stop: the node's own restart), restart
PostgreSQL (an immediate stop: a crash, WAL replay on start), and publish a 5,000-recipient
event and SIGKILL the processor while it writes that event's rows. Faults run one after
another; one that falls due while the previous is still running starts right after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass, field

import httpx

from tests.acceptance.chaos.herald_procs import SERVICES
from tests.acceptance.chaos.large import being_written, catch_mid_write, publish_large
from tests.acceptance.chaos.population import PlannedEvent
from tests.acceptance.chaos.stack import Stack

KILL, RABBITMQ, POSTGRESQL = "kill", "rabbitmq-restart", "postgresql-restart"
LARGE_KILL = "large-event-kill"  # publish a large event, SIGKILL the processor writing it
READY_AFTER_RESTART_S = 120.0  # every service must report ready again within this
MAX_DOWNTIME_S = 3.0


@dataclass(frozen=True)
class Fault:
    offset_s: float  # after the load started
    kind: str
    target: str = ""
    downtime_s: float = 0.0  # a killed service stays down this long


@dataclass
class FaultRecord:
    fault: Fault
    started_at: float  # wall clock (time.time), comparable with the SMTP sink's record
    ended_at: float = 0.0  # the restarted thing is back (for a server: every service ready)
    killed_at: float = 0.0  # a killed service: the process is gone (reaped)
    error: str = ""
    # large events a transaction was writing when the fault struck → what it was doing
    landed_on: dict[str, str] = field(default_factory=dict)
    note: str = ""

    @property
    def duration_s(self) -> float:
        return self.ended_at - self.started_at


def plan_faults(seed: int, load_s: float, kills: int, large: int = 0) -> list[Fault]:
    """``kills`` SIGKILLs (every service at least once when kills ≥ 5), one RabbitMQ restart,
    one PostgreSQL restart and ``large`` large-event kills, at random moments of the load's
    middle 80 %."""
    rng = random.Random(seed)
    targets = list(SERVICES) * (kills // len(SERVICES))
    targets += rng.sample(SERVICES, kills % len(SERVICES))
    rng.shuffle(targets)
    faults = [
        Fault(rng.uniform(0.1, 0.9) * load_s, KILL, t, rng.uniform(0.2, MAX_DOWNTIME_S))
        for t in targets
    ]
    faults.append(Fault(rng.uniform(0.2, 0.8) * load_s, RABBITMQ, "rabbitmq"))
    faults.append(Fault(rng.uniform(0.2, 0.8) * load_s, POSTGRESQL, "postgresql"))
    faults += [
        Fault(rng.uniform(0.1, 0.9) * load_s, LARGE_KILL, "processor",
              rng.uniform(0.2, MAX_DOWNTIME_S))
        for _ in range(large)
    ]  # fmt: skip
    return sorted(faults, key=lambda f: f.offset_s)


def writes_killed(fault: Fault) -> bool:
    """Faults that end a processor's transaction mid-way (the others cannot touch it)."""
    return fault.target == "processor" or fault.kind == POSTGRESQL


@dataclass
class Injector:
    stack: Stack
    plan: list[Fault]
    large: list[PlannedEvent] = field(default_factory=list)  # one per LARGE_KILL, in order
    records: list[FaultRecord] = field(default_factory=list)
    published_large: list[str] = field(default_factory=list)

    async def run(self, load_started: float) -> None:
        for fault in self.plan:
            await asyncio.sleep(max(0.0, load_started + fault.offset_s - time.monotonic()))
            record = FaultRecord(fault, time.time())
            self.records.append(record)
            try:
                if fault.kind == LARGE_KILL:
                    await self._large_event(record)
                elif writes_killed(fault):
                    record.landed_on = await being_written(self.stack.db_url, self.published_large)
                await asyncio.to_thread(self._inject, record)
            except Exception as exc:  # reported and asserted on: the system did not recover
                record.error = f"{type(exc).__name__}: {exc}"
            record.ended_at = time.time()

    async def _large_event(self, record: FaultRecord) -> None:
        """Publish the next large event and wait until a transaction is writing it; the kill
        itself is ``_inject``'s. Not caught (already processed?) is noted, killed anyway."""
        event = self.large[len(self.published_large)]
        await publish_large(self.stack.rabbit.url, event)
        self.published_large.append(event.id)
        caught = await catch_mid_write(self.stack.db_url, event.id)
        record.started_at = time.time()
        if caught:
            record.landed_on = {event.id: caught}
        else:
            record.note = f"{event.id} never seen being written; killed anyway"

    def _inject(self, record: FaultRecord) -> None:
        procs, fault = self.stack.procs, record.fault
        if fault.kind in (KILL, LARGE_KILL):
            procs.kill(fault.target)
            record.killed_at = time.time()
            time.sleep(fault.downtime_s)
            procs.start(fault.target)
            procs.wait_ready(fault.target)
            return
        if fault.kind == RABBITMQ:
            self.stack.rabbit.restart()
        else:
            self.stack.pg.restart()
        self._wait_all_ready()

    def _wait_all_ready(self) -> None:
        """``/readyz`` (database and broker reachable) of every service that has them."""
        deadline = time.monotonic() + READY_AFTER_RESTART_S
        waiting = set(SERVICES) - {"acl_mediator"}
        while waiting:
            for name in sorted(waiting):
                if _ready(self.stack.procs.ports[name]):
                    waiting.discard(name)
            if waiting and time.monotonic() > deadline:
                raise RuntimeError(f"not ready again after {READY_AFTER_RESTART_S}s: {waiting}")
            time.sleep(0.2)

    def count(self, kind: str, target: str = "") -> int:
        return sum(1 for r in self.records if r.fault.kind == kind and target in r.fault.target)


def _ready(port: int) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
    return False
