"""CRUD /v1/subscriptions (saved filters, DESIGN §5.2) and POST /v1/subscriptions/preview."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from services.ingest.auth_deps import CurrentUser
from services.ingest.deps import Mediator, PreviewThrottle, Session
from services.ingest.errors import error_responses
from services.ingest.user_api import subscription_store as store
from services.ingest.user_api.preview import preview
from services.ingest.user_api.schemas import (
    PreviewRequest,
    PreviewResult,
    RowId,
    SubscriptionIn,
    SubscriptionOut,
)
from services.ingest.user_api.subscription_store import checked_filter
from services.ingest.user_api.throttle import limit_preview

router = APIRouter(
    prefix="/v1/subscriptions", tags=["subscriptions"], responses=error_responses(401, 422, 503)
)
_NOT_FOUND = error_responses(404)
_FILTER_422 = (
    "A bad filter answers 422 with code `invalid_filter` and `details.condition` = the index "
    "of the offending condition."
)


@router.get("", summary="The user's subscriptions")
async def list_subscriptions(user: CurrentUser, session: Session) -> list[SubscriptionOut]:
    subs = await store.list_mine(session, user)
    return [SubscriptionOut.model_validate(s) for s in subs]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Save a filter",
    description=_FILTER_422,
    responses=error_responses(409),
)
async def create_subscription(
    user: CurrentUser, body: SubscriptionIn, session: Session
) -> SubscriptionOut:
    return SubscriptionOut.model_validate(await store.create(session, user, body))


_PREVIEW = (
    "Only events about objects the user may read now are scanned and counted (one permissions "
    "check for all of them). Rate-limited per user: 429 with `Retry-After` past "
    "`HERALD_PREVIEW_BURST` previews at once or `HERALD_PREVIEW_RATE_PER_S` sustained."
)


@router.post(
    "/preview",
    summary="Which recent events this filter would have matched",
    description=_PREVIEW,
    responses=error_responses(429),
)
async def preview_subscription(
    user: CurrentUser,
    body: PreviewRequest,
    throttle: PreviewThrottle,
    mediator: Mediator,
    session: Session,
) -> PreviewResult:
    checked_filter(body.filter)  # a bad filter is a 422 and costs no preview
    limit_preview(throttle, user)
    return await preview(session, mediator, user, body)


@router.get("/{sub_id}", summary="One subscription", responses=_NOT_FOUND)
async def get_subscription(user: CurrentUser, sub_id: RowId, session: Session) -> SubscriptionOut:
    return SubscriptionOut.model_validate(await store.get_mine(session, user, sub_id))


@router.put(
    "/{sub_id}", summary="Replace a subscription", description=_FILTER_422, responses=_NOT_FOUND
)
async def replace_subscription(
    user: CurrentUser, sub_id: RowId, body: SubscriptionIn, session: Session
) -> SubscriptionOut:
    return SubscriptionOut.model_validate(await store.replace(session, user, sub_id, body))


@router.delete(
    "/{sub_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a subscription",
    responses=_NOT_FOUND,
)
async def delete_subscription(user: CurrentUser, sub_id: RowId, session: Session) -> Response:
    await store.remove(session, user, sub_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
