"""GET/PUT /v1/digest: the user's digest schedule per channel (days, time, time zone).

How a change is applied: ``service.py`` (and docs/digests.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from libs.common.db.models import utcnow
from libs.common.delivery.channels import NAME_PATTERN
from services.ingest.auth_deps import CurrentUser
from services.ingest.deps import Session
from services.ingest.digest_api import service
from services.ingest.digest_api.schemas import ScheduleIn, ScheduleList, ScheduleOut
from services.ingest.errors import error_responses

# the name's shape only: which channels exist is the registry's (service.check_digest_channel)
CHANNEL_PATTERN = NAME_PATTERN.pattern

router = APIRouter(prefix="/v1/digest", tags=["digest"], responses=error_responses(401, 422, 503))
ChannelPath = Annotated[str, Path(pattern=CHANNEL_PATTERN, examples=["email"])]


@router.get("", summary="The user's digest schedules, one per configured channel")
async def list_schedules(user: CurrentUser, session: Session) -> ScheduleList:
    return await service.list_schedules(session, user)


@router.get("/{channel}", summary="One channel's digest schedule (defaults when not saved)")
async def get_schedule(user: CurrentUser, channel: ChannelPath, session: Session) -> ScheduleOut:
    service.check_digest_channel(channel)
    return await service.get_schedule(session, user, channel)


@router.put(
    "/{channel}",
    summary="Set one channel's digest schedule",
    description="Nothing already collected is lost or sent twice: see docs/digests.md. "
    "The browser has no digest (422, code `no_digest`).",
)
async def put_schedule(
    user: CurrentUser, channel: ChannelPath, body: ScheduleIn, session: Session
) -> ScheduleOut:
    service.check_digest_channel(channel)
    return await service.put_schedule(session, user, channel, body, utcnow())
