"""Linking a user's Telegram chat, user side (JWT): a one-time deep link
``https://t.me/<bot>?start=<token>``. The bot side (``/start <token>`` → chat id stored,
``/stop`` → unlinked) runs in the sender, which holds the bot token."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import delete, or_, select, update

from libs.common.db.engine import transaction
from libs.common.db.models import Recipient, TelegramLink, utcnow
from libs.common.settings import HeraldSettings
from services.ingest.auth_deps import CurrentUser

TOKEN_BYTES = 24  # 32 URL-safe characters; Telegram allows up to 64 in a start parameter


class TelegramLinkSettings(HeraldSettings):
    telegram_bot_username: str | None = Field(
        default=None, description="the bot's @username (without @) for t.me deep links"
    )
    telegram_link_ttl_s: int = Field(default=900, ge=60, le=86_400)


class LinkOut(BaseModel):
    url: str = Field(examples=["https://t.me/herald_bot?start=3q2-7w…"])
    expires_at: datetime


class LinkState(BaseModel):
    linked: bool


router = APIRouter(prefix="/v1/telegram", tags=["telegram"])


def token_hash(token: str) -> str:
    """Only the hash is stored (the sender hashes the /start parameter the same way)."""
    return hashlib.sha256(token.encode()).hexdigest()


@router.post("/link", status_code=status.HTTP_201_CREATED, summary="A one-time deep link")
async def create_link(request: Request, user: CurrentUser) -> LinkOut:
    settings: TelegramLinkSettings = request.app.state.settings
    if not settings.telegram_bot_username:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "Telegram is not configured")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    expires = utcnow() + timedelta(seconds=settings.telegram_link_ttl_s)
    async with transaction(request.app.state.resources.sessions) as session:
        # only the newest link works; used and expired rows of this user go too
        await session.execute(
            delete(TelegramLink).where(
                TelegramLink.tenant == user.tenant,
                TelegramLink.user_id == user.user_id,
                or_(TelegramLink.used_at.is_(None), TelegramLink.expires_at < utcnow()),
            )
        )
        session.add(
            TelegramLink(
                token=token_hash(token),
                tenant=user.tenant,
                user_id=user.user_id,
                expires_at=expires,
            )
        )
    bot = settings.telegram_bot_username.lstrip("@")
    return LinkOut(url=f"https://t.me/{bot}?start={token}", expires_at=expires)


@router.get("/link", summary="Whether a Telegram chat is linked")
async def link_state(request: Request, user: CurrentUser) -> LinkState:
    async with transaction(request.app.state.resources.sessions) as session:
        chat = await session.scalar(
            select(Recipient.telegram_chat_id).where(
                Recipient.tenant == user.tenant, Recipient.user_id == user.user_id
            )
        )
    return LinkState(linked=chat is not None)


@router.delete("/link", status_code=status.HTTP_204_NO_CONTENT, summary="Unlink the chat")
async def unlink(request: Request, user: CurrentUser) -> Response:
    async with transaction(request.app.state.resources.sessions) as session:
        await session.execute(
            update(Recipient)
            .where(Recipient.tenant == user.tenant, Recipient.user_id == user.user_id)
            .values(telegram_chat_id=None)
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
