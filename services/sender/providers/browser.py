"""Browser: publish a BrowserPush to herald.browser; every websocket gateway gets a copy and
forwards it to that user's open pages (DESIGN §8)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.bus import Bus
from libs.common.bus.topology import BROWSER_EXCHANGE
from libs.common.db.engine import transaction
from libs.common.db.models import Notification
from libs.common.db.outage import is_transient
from libs.common.inbox.inbox_cursor import reveal
from libs.common.inbox.unread import unread_counts
from libs.common.schemas.inbox import BrowserPush, InboxItem
from services.sender.providers.base import (
    Address,
    OutgoingMessage,
    Provider,
    ProviderPermanentError,
    ProviderResult,
    ProviderTransientError,
    ProviderUnavailable,
)


class BrowserProvider(Provider):
    channel = "browser"

    def __init__(self, bus: Bus, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._bus, self._sessions = bus, sessions

    async def send(self, to: Address, message: OutgoingMessage) -> ProviderResult:
        if message.notification_id is None:
            raise ProviderPermanentError("the browser channel shows the inbox; it has no digests")
        try:
            # the permission check passed: the item becomes visible and gets its cursor value
            async with transaction(self._sessions) as session:
                push = await build_push(session, to, message.notification_id)
        except Exception as exc:
            if is_transient(exc):  # the database is restarting: not this delivery's fault
                raise ProviderTransientError(f"database unavailable: {exc!r}") from exc
            raise
        try:
            await self._bus.publish(BROWSER_EXCHANGE, "", push.model_dump_json().encode())
        except Exception as exc:  # broker down or unconfirmed: the breaker's business
            raise ProviderUnavailable(f"herald.browser publish: {exc!r}") from exc
        return ProviderResult(f"browser-{message.delivery_id}")


async def build_push(session: AsyncSession, to: Address, notification_id: int) -> BrowserPush:
    revealed = await reveal(session, [notification_id])
    note = await session.get(Notification, notification_id)
    if note is None:
        raise ProviderPermanentError(f"notification {notification_id} is gone")
    if not revealed:
        raise ProviderPermanentError(f"notification {notification_id} is hidden (access denied)")
    return BrowserPush(
        kind="notification",
        tenant=to.tenant,
        user_id=to.user_id,
        notification=InboxItem.model_validate(note),
        seq=revealed[0].seq,
        counts=await unread_counts(session, to.tenant, to.user_id),
    )
