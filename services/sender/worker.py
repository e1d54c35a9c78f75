"""The sender's loop: claim a batch (committed), send each, record each outcome."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.bus import Message
from libs.common.db.engine import transaction
from libs.common.db.models import Delivery, Recipient
from services.sender import metrics as m
from services.sender.claim import claim_due
from services.sender.outcome import mark_failed, mark_retry, mark_sent
from services.sender.providers.base import (
    Address,
    OutgoingMessage,
    Provider,
    ProviderPermanentError,
    ProviderTransientError,
)
from services.sender.settings import SenderSettings

log = logging.getLogger("herald.sender")


class Sender:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        providers: dict[str, Provider],
        settings: SenderSettings,
    ) -> None:
        self._sessions, self._providers, self._s = sessions, providers, settings
        self._wake = asyncio.Event()

    async def on_nudge(self, _message: Message) -> None:
        self._wake.set()

    async def run_forever(self) -> None:
        while True:
            try:
                busy = await self.run_once()
            except Exception:
                log.exception("send loop failed; retrying")
                busy = 0
            if busy < self._s.sender_batch:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._s.sender_sweep_interval_s)

    async def run_once(self) -> int:
        async with transaction(self._sessions) as session:
            batch = await claim_due(session, self._s.sender_batch, self._s.sender_lease_s)
            addresses = await self._addresses(session, batch)
        await asyncio.gather(*(self._deliver(d, addresses) for d in batch))
        return len(batch)

    async def _addresses(
        self, session: AsyncSession, batch: list[Delivery]
    ) -> dict[tuple[str, str], Address]:
        keys = {(d.tenant, d.user_id) for d in batch}
        if not keys:
            return {}
        users = [u for _, u in keys]
        rows = await session.scalars(select(Recipient).where(Recipient.user_id.in_(users)))
        found = {
            (r.tenant, r.user_id): Address(r.tenant, r.user_id, r.email, r.telegram_chat_id)
            for r in rows
        }
        return {k: found.get(k, Address(*k)) for k in keys}

    async def _deliver(self, d: Delivery, addresses: dict[tuple[str, str], Address]) -> None:
        provider = self._providers.get(d.channel)
        message = OutgoingMessage(d.id, d.subject, d.body, d.body_html)
        started = time.perf_counter()
        try:
            if provider is None:
                raise ProviderPermanentError(f"no provider configured for channel {d.channel!r}")
            result = await provider.send(addresses[(d.tenant, d.user_id)], message)
        except ProviderTransientError as exc:
            m.RETRIED.labels(d.channel).inc()
            await self._record(
                mark_retry, d, str(exc), self._s.sender_max_attempts, exc.retry_after_s
            )
            return
        except Exception as exc:
            log.warning("delivery %s failed: %r", d.id, exc)
            m.FAILED.labels(d.channel).inc()
            await self._record(mark_failed, d, f"{type(exc).__name__}: {exc}")
            return
        m.LATENCY.labels(d.channel).observe(time.perf_counter() - started)
        m.SENT.labels(d.channel).inc()
        await self._record(mark_sent, d, result.provider_message_id)

    async def _record(self, fn: object, d: Delivery, *args: object) -> None:
        try:
            async with transaction(self._sessions) as session:
                await fn(session, d, *args)  # type: ignore[operator]
        except Exception:
            # the lease expires and the delivery is claimed again: at-least-once, never lost
            log.exception("could not record the outcome of delivery %s", d.id)
