"""Telegram's flood limits (about 1 message/s to one chat, 30/s for the whole bot) as a
schedule of send slots. A caller gets a slot within ``max_wait_s`` (and sleeps until it) or
is told how long to wait, so it can put the delivery back instead of holding a worker slot.

Per process: several sender replicas share the bot's 30/s between them only by being
configured lower (``per_bot_per_s``); 429 ``retry_after`` answers close the rest of the gap.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from services.sender.providers.base import ProviderDeferred

CHAT_INTERVAL_S = 1.1  # Telegram: ~1 msg/s per chat; 10% margin for network jitter
BOT_PER_S = 28.0  # Telegram: 30 msg/s per bot; a little under it for the same reason
MAX_WAIT_S = 1.0  # sleep for a slot up to this long; longer waits are deferred
PRUNE_AT = 10_000  # chats remembered before forgetting the ones whose slot is past


class SendSchedule:
    def __init__(
        self,
        chat_interval_s: float = CHAT_INTERVAL_S,
        per_bot_per_s: float = BOT_PER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._chat_interval = chat_interval_s
        self._bot_interval = 1.0 / per_bot_per_s
        self._clock = clock
        self._chat_next: dict[str, float] = {}
        self._bot_next = 0.0

    def reserve(self, chat: str, max_wait_s: float = MAX_WAIT_S) -> tuple[bool, float]:
        """(True, wait) — a slot ``wait`` seconds from now is yours; (False, wait) — none
        within ``max_wait_s``; ask again in ``wait`` seconds."""
        now = self._clock()
        start = max(now, self._chat_next.get(chat, now), self._bot_next)
        wait = start - now
        if wait > max_wait_s:
            return False, wait
        self._chat_next[chat] = start + self._chat_interval
        self._bot_next = start + self._bot_interval
        if len(self._chat_next) > PRUNE_AT:
            self._prune(now)
        return True, wait

    def pause_chat(self, chat: str, seconds: float) -> None:
        """Telegram said 429 ``retry_after``: nothing to this chat before then."""
        until = self._clock() + seconds
        self._chat_next[chat] = max(self._chat_next.get(chat, until), until)

    def _prune(self, now: float) -> None:
        self._chat_next = {c: t for c, t in self._chat_next.items() if t > now}


async def take_slot(schedule: SendSchedule, key: str, peer: str) -> None:
    """Sleep until ``key``'s slot, or raise ProviderDeferred (not an attempt) when none is near."""
    granted, wait_s = schedule.reserve(key)
    if not granted:
        raise ProviderDeferred(f"{peer} rate limit: next slot in {wait_s:.1f}s", wait_s)
    if wait_s > 0:
        await asyncio.sleep(wait_s)
