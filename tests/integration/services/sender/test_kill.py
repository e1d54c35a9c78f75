"""A sender process (`herald run sender`) SIGKILLed mid-batch loses nothing: once the lease
expires a restarted sender sends every delivery the first one did not finish."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.models import Delivery
from services.sender.app import create_app
from services.sender.settings import SenderSettings
from tests.apps import eventually, running
from tests.integration.services.sender.support import MEDIATOR_KEY, SmtpSink, mediator_server, seed
from tests.processes import herald_process

LEASE_S = 2
BATCH = 20
DELIVERIES = 120


async def statuses(sessions: async_sessionmaker[AsyncSession]) -> Counter[str]:
    async with sessions() as session:
        return Counter((await session.scalars(select(Delivery.status))).all())


async def test_sigkill_mid_batch_loses_nothing(
    database_url: str, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    ids = await seed(sessions, [f"u-{i}" for i in range(DELIVERIES)])
    sink = await SmtpSink(delay_s=0.01).start()
    async with mediator_server() as mediator_url:
        env = {
            "HERALD_DATABASE_URL": database_url,
            "HERALD_AMQP_URL": "memory://kill-test",
            "HERALD_MEDIATOR_URL": mediator_url,
            "HERALD_MEDIATOR_API_KEY": MEDIATOR_KEY,
            "HERALD_SMTP_HOST": "127.0.0.1",
            "HERALD_SMTP_PORT": str(sink.port),
            "HERALD_SENDER_LEASE_S": str(LEASE_S),
            "HERALD_SENDER_BATCH": str(BATCH),
            "HERALD_SENDER_SWEEP_INTERVAL_S": "0.2",
            "HERALD_SMTP_POOL_SIZE": "2",
        }
        async with herald_process("sender", env, tmp_path / "first.log") as first:

            async def mid_way() -> bool:
                return len(sink.mails) >= DELIVERIES // 3

            await eventually(mid_way, timeout_s=30)
            first.send_signal(signal.SIGKILL)
            await first.wait()
        at_kill = await statuses(sessions)
        assert at_kill["SENDING"] > 0, at_kill  # killed with a batch in hand
        assert at_kill["PENDING"] > 0, at_kill

        # the restarted sender (in-process: the real app and lifespan, same settings)
        values: dict[str, Any] = {k.removeprefix("HERALD_").lower(): v for k, v in env.items()}
        async with running(create_app(SenderSettings(**values))):

            async def all_sent() -> bool:
                return (await statuses(sessions)) == Counter({"SENT": DELIVERIES})

            await eventually(all_sent, timeout_s=60, interval_s=0.2)
    await sink.stop()

    received = Counter(sink.message_ids())
    assert set(received) == {f"<delivery-{i}@localhost>" for i in ids}  # none lost
    twice = [m for m, n in received.items() if n > 1]
    # at-least-once: only mails in flight at the kill can go twice, never a whole backlog
    assert len(twice) <= at_kill["SENDING"]
    assert max(received.values()) <= 2
