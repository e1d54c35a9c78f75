"""GET/PUT /v1/preferences: instant, digest or off per module × channel."""

from __future__ import annotations

from fastapi import APIRouter

from services.ingest.auth_deps import CurrentUser
from services.ingest.deps import Session
from services.ingest.errors import error_responses
from services.ingest.user_api import preference_queries as queries
from services.ingest.user_api import preference_rules as rules
from services.ingest.user_api.schemas import PreferencesUpdate, PreferencesView

router = APIRouter(
    prefix="/v1/preferences", tags=["preferences"], responses=error_responses(401, 422, 503)
)


@router.get("", summary="Effective channel modes per module, with what can be changed")
async def get_preferences(user: CurrentUser, session: Session) -> PreferencesView:
    modules = await queries.load_modules(session, user.tenant)
    rows = await queries.load_rows(session, user)
    defaults = await queries.tenant_modes(session, user.tenant)
    return rules.build_view(modules, rows, defaults)


@router.put(
    "",
    summary="Change some settings (all or none); mode null resets one to its default",
    description="Refused with 422 (code `critical_channel`) when a change would switch off "
    "a channel that a critical event type of the module delivers on, and (code `no_digest`) "
    "when it asks for a digest on a channel without digests (the browser).",
)
async def put_preferences(
    user: CurrentUser, body: PreferencesUpdate, session: Session
) -> PreferencesView:
    modules = await queries.load_modules(session, user.tenant)
    for index, change in enumerate(body.changes):
        rules.check_change(index, change, modules)
    await queries.apply_changes(session, user, body.changes)
    rows = await queries.load_rows(session, user)
    defaults = await queries.tenant_modes(session, user.tenant)
    return rules.build_view(modules, rows, defaults)
