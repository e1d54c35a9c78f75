"""The Telegram linking flow, bot side: ``/start <token>`` binds the chat to the user who asked
ingest for the deep link (``POST /v1/telegram/link``); ``/stop`` unbinds it.

Updates come by long polling (``getUpdates``) from the sender that has
HERALD_TELEGRAM_BOT_TOKEN and HERALD_TELEGRAM_POLLING on — exactly one sender may poll a bot
(Telegram answers 409 to a second poller). Each update is applied in its own transaction
before the offset moves past it, so a crash re-reads it, and applying one twice is harmless.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramConflictError
from aiogram.types import Update
from sqlalchemy import and_, not_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from libs.common.db.engine import transaction
from libs.common.db.models import Recipient, TelegramLink, utcnow

log = logging.getLogger("herald.sender.telegram")

POLL_TIMEOUT_S = 25  # long poll: Telegram holds the request until an update or this
POLL_ERROR_PAUSE_S = 5.0
CONFLICT_PAUSE_S = 30.0  # another poller or a webhook owns the bot; check back later

LINKED = "Herald notifications will come to this chat. Send /stop to turn them off."
UNLINKED = "This chat will no longer receive Herald notifications."
INVALID = "This link is invalid or has expired. Ask Herald for a new one in your settings."
HELP = "Open the link from your Herald settings to connect this chat."


def token_hash(token: str) -> str:
    """Only the hash is stored: a leaked table does not hand out working links."""
    return hashlib.sha256(token.encode()).hexdigest()


async def apply_command(session: AsyncSession, chat: str, text: str) -> str | None:
    """The reply for a private message, or None when it is not for us. Flush only."""
    parts = text.strip().split()
    command = parts[0].split("@", 1)[0].lower() if parts else ""
    if command == "/start":
        return await link(session, chat, parts[1]) if len(parts) > 1 else HELP
    if command == "/stop":
        await unlink(session, chat)
        return UNLINKED
    return None


async def link(session: AsyncSession, chat: str, token: str) -> str:
    row = await session.scalar(
        select(TelegramLink)
        .where(TelegramLink.token == token_hash(token), TelegramLink.expires_at > utcnow())
        .with_for_update()
    )
    if row is None:
        return INVALID
    user = await session.get(Recipient, (row.tenant, row.user_id), with_for_update=True)
    if row.used_at is not None:  # one-time; but a re-read update (crash) is answered again
        return LINKED if user is not None and user.telegram_chat_id == chat else INVALID
    row.used_at = utcnow()
    # one chat is one person: a chat linked to someone else before now belongs to this user
    await session.execute(
        update(Recipient)
        .where(
            Recipient.telegram_chat_id == chat,
            not_(and_(Recipient.tenant == row.tenant, Recipient.user_id == row.user_id)),
        )
        .values(telegram_chat_id=None)
    )
    if user is None:  # not in the directory yet: the row is created, the directory fills it
        session.add(
            Recipient(
                tenant=row.tenant,
                user_id=row.user_id,
                telegram_chat_id=chat,
                roles=[],
                attributes={},
            )
        )
    else:
        user.telegram_chat_id = chat
    return LINKED


async def unlink(session: AsyncSession, chat: str) -> None:
    await session.execute(
        update(Recipient).where(Recipient.telegram_chat_id == chat).values(telegram_chat_id=None)
    )


class TelegramLinker:
    """Long-polls the bot's updates and applies /start and /stop."""

    def __init__(self, bot: Bot, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._bot, self._sessions = bot, sessions
        self._offset: int | None = None

    async def run(self) -> None:
        while True:
            try:
                await self.poll_once()
            except TelegramConflictError as exc:
                log.warning("another getUpdates poller or a webhook owns the bot: %s", exc)
                await asyncio.sleep(CONFLICT_PAUSE_S)
            except Exception:
                log.exception("Telegram update polling failed; retrying")
                await asyncio.sleep(POLL_ERROR_PAUSE_S)

    async def poll_once(self, timeout_s: int = POLL_TIMEOUT_S) -> int:
        updates = await self._bot.get_updates(
            offset=self._offset,
            timeout=timeout_s,
            allowed_updates=["message"],
            request_timeout=timeout_s + 10,
        )
        for item in updates:
            await self.handle(item)  # raises → the offset stays, the update is read again
            self._offset = item.update_id + 1
        return len(updates)

    async def handle(self, item: Update) -> None:
        msg = item.message
        if msg is None or not msg.text or msg.chat.type != "private":
            return
        chat = str(msg.chat.id)
        async with transaction(self._sessions) as session:
            reply = await apply_command(session, chat, msg.text)
        if reply is not None:
            try:
                await self._bot.send_message(chat_id=msg.chat.id, text=reply)
            except TelegramAPIError as exc:  # the link is stored; the courtesy reply is not vital
                log.warning("could not answer chat %s: %s", chat, exc)
