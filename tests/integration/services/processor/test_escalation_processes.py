"""Escalation across real processes (`herald run processor`): two processors take the due
steps of 400 critical notifications at once, one is SIGKILLed in the middle, and every step
ends sent or skipped exactly once — one live delivery per (person, channel), none missing."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from libs.common.db.models import Delivery, Escalation, Event, EventType
from tests.apps import eventually
from tests.integration.services.processor.support import add, event, person, store
from tests.processes import free_port, herald_process

USERS = [f"r-{i}" for i in range(400)]  # enough steps that a kill lands in the middle
CHAIN = [
    {"channel": "browser", "after_minutes": 0},
    {"channel": "email", "after_minutes": 10},
    {"channel": "telegram", "after_minutes": 30},
    {"channel": "sms", "after_minutes": 60},
]
ENV = {
    "HERALD_AMQP_URL": "memory://escalation-processes",  # the sweep finds the event
    "HERALD_PROCESSOR_SWEEP_AGE_S": "0",
    "HERALD_PROCESSOR_SWEEP_INTERVAL_S": "0.2",
    "HERALD_PROCESSOR_ESCALATION_INTERVAL_S": "0.1",
    "HERALD_PROCESSOR_ESCALATION_BATCH": "3",
    "HERALD_PROCESSOR_CATALOG_TTL_S": "0",
    "HERALD_SMTP_HOST": "127.0.0.1",  # e-mail and Telegram have providers: steps are planned
    "HERALD_TELEGRAM_BOT_TOKEN": "42:test",
}


async def _settled(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(
            await session.scalar(
                select(func.count()).where(Escalation.status != "planned", Escalation.step < 4)
            )
            or 0
        )


async def _sent_by(port: int) -> float:
    async with httpx.AsyncClient() as client:
        page = (await client.get(f"http://127.0.0.1:{port}/metrics", timeout=5)).text
    for line in page.splitlines():
        if line.startswith('herald_processor_escalation_steps_total{outcome="sent"}'):
            return float(line.split()[-1])
    return 0.0


async def test_two_processes_and_a_sigkill_send_every_step_once(
    engine: AsyncEngine,
    database_url: str,
    sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
) -> None:
    await add(
        sessions,
        *(person(u, telegram_chat_id=str(1000 + i)) for i, u in enumerate(USERS)),
        EventType(
            key="tenders.tender.requirement_added", source="tenders",
            default_channels=["browser"], escalation=CHAIN,
        ),
    )  # fmt: skip
    env = {**ENV, "HERALD_DATABASE_URL": database_url}
    first_port, second_port = free_port(), free_port()
    async with (
        herald_process("processor", env, tmp_path / "first.log", first_port) as first,
        herald_process("processor", env, tmp_path / "second.log", second_port),
    ):
        body = event(priority="critical", recipients={"assignee": USERS})
        event_id = await store(sessions, body)

        async def processed() -> bool:
            async with sessions() as session:
                row = await session.get(Event, event_id, populate_existing=True)
                return row is not None and row.status == "processed"

        await eventually(processed, timeout_s=60, interval_s=0.1)
        async with engine.begin() as conn:  # an hour passes for the first three steps
            await conn.execute(
                text("UPDATE escalations SET fire_at = now() - interval '1 second' WHERE step < 4")
            )

        shares = (0.0, 0.0)

        async def both_working() -> bool:  # a loaded machine may start one loop late
            nonlocal shares
            shares = (await _sent_by(first_port), await _sent_by(second_port))
            return all(shares) and await _settled(sessions) >= 60

        await eventually(both_working, timeout_s=60, interval_s=0.02)
        first.send_signal(signal.SIGKILL)
        await first.wait()
        assert await _settled(sessions) < 3 * len(USERS)  # killed in the middle

        async def all_settled() -> bool:
            return await _settled(sessions) == 3 * len(USERS)

        await eventually(all_settled, timeout_s=120, interval_s=0.2)
    assert all(shares), shares  # both processes took steps before the kill
    async with sessions() as session:
        live = (
            await session.execute(
                select(Delivery.user_id, Delivery.channel).where(Delivery.status != "SKIPPED")
            )
        ).all()
        steps = (
            await session.execute(
                select(Escalation.channel, Escalation.status, func.count()).group_by(
                    Escalation.channel, Escalation.status
                )
            )
        ).all()
    expected = sorted((u, ch) for u in USERS for ch in ("browser", "email", "telegram"))
    assert sorted(tuple(r) for r in live) == expected  # each once, none missing
    assert sorted(tuple(r) for r in steps) == [
        ("browser", "skipped", len(USERS)), ("email", "sent", len(USERS)),
        ("sms", "planned", len(USERS)), ("telegram", "sent", len(USERS)),
    ]  # fmt: skip
