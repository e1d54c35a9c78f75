"""The link rows and the linked chat, scoped to (tenant, user); flush only."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from libs.common.db.models import Recipient, TelegramLink, utcnow
from libs.common.security.auth import Principal


def token_hash(token: str) -> str:
    """Only the hash is stored (the sender hashes the /start parameter the same way)."""
    return hashlib.sha256(token.encode()).hexdigest()


async def replace_link(
    session: AsyncSession, user: Principal, token: str, expires: datetime
) -> None:
    """Only the newest link works; used and expired rows of this user go too."""
    await session.execute(
        delete(TelegramLink).where(
            TelegramLink.tenant == user.tenant,
            TelegramLink.user_id == user.user_id,
            or_(TelegramLink.used_at.is_(None), TelegramLink.expires_at < utcnow()),
        )
    )
    session.add(
        TelegramLink(
            token=token_hash(token), tenant=user.tenant, user_id=user.user_id, expires_at=expires
        )
    )
    await session.flush()


async def is_linked(session: AsyncSession, user: Principal) -> bool:
    chat = await session.scalar(
        select(Recipient.telegram_chat_id).where(
            Recipient.tenant == user.tenant, Recipient.user_id == user.user_id
        )
    )
    return chat is not None


async def unlink(session: AsyncSession, user: Principal) -> None:
    await session.execute(
        update(Recipient)
        .where(Recipient.tenant == user.tenant, Recipient.user_id == user.user_id)
        .values(telegram_chat_id=None)
    )
