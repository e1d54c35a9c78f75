"""Linking a user's Telegram chat, user side (JWT): a one-time deep link
``https://t.me/<bot>?start=<token>``. The bot side (``/start <token>`` → chat id stored,
``/stop`` → unlinked) runs in the sender, which holds the bot token."""

from __future__ import annotations

import secrets
from datetime import timedelta

from fastapi import APIRouter, HTTPException, Response, status

from libs.common.db.models import utcnow
from services.ingest.auth_deps import CurrentUser
from services.ingest.deps import Session, Settings
from services.ingest.telegram_api import queries as q
from services.ingest.telegram_api.schemas import LinkOut, LinkState

TOKEN_BYTES = 24  # 32 URL-safe characters; Telegram allows up to 64 in a start parameter

router = APIRouter(prefix="/v1/telegram", tags=["telegram"])


@router.post("/link", status_code=status.HTTP_201_CREATED, summary="A one-time deep link")
async def create_link(user: CurrentUser, settings: Settings, session: Session) -> LinkOut:
    if not settings.telegram_bot_username:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "Telegram is not configured")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    expires = utcnow() + timedelta(seconds=settings.telegram_link_ttl_s)
    await q.replace_link(session, user, token, expires)
    bot = settings.telegram_bot_username.lstrip("@")
    return LinkOut(url=f"https://t.me/{bot}?start={token}", expires_at=expires)


@router.get("/link", summary="Whether a Telegram chat is linked")
async def link_state(user: CurrentUser, session: Session) -> LinkState:
    return LinkState(linked=await q.is_linked(session, user))


@router.delete("/link", status_code=status.HTTP_204_NO_CONTENT, summary="Unlink the chat")
async def unlink(user: CurrentUser, session: Session) -> Response:
    await q.unlink(session, user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
