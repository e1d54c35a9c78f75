"""The "user's story" page (/admin/story?user=…&tenant=…)."""

from __future__ import annotations

from typing import ClassVar

from sqladmin import BaseView, expose
from starlette import status
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from libs.common.db.engine import transaction
from libs.common.tenancy.tenants import DEFAULT_TENANT
from services.ingest.admin.context import AdminContext
from services.ingest.admin.scope import scope_of
from services.ingest.admin.story import DEFAULT_DAYS, load_story

MAX_DAYS = 365
MAX_ID_CHARS = 128


class StoryView(BaseView):
    name = "User's story"
    icon = "fa-solid fa-book-open"
    category = "Activity"
    ctx: ClassVar[AdminContext]

    @expose("/story", methods=["GET"], identity="story")
    async def story(self, request: Request) -> Response:
        user = request.query_params.get("user", "").strip()[:MAX_ID_CHARS]
        scope = scope_of(request)
        first = DEFAULT_TENANT if scope is None else min(scope, default=DEFAULT_TENANT)
        tenant = request.query_params.get("tenant", "").strip()[:MAX_ID_CHARS] or first
        if scope is not None and tenant not in scope:  # another tenant's people: not here
            raise HTTPException(status.HTTP_404_NOT_FOUND)
        days = _days(request.query_params.get("days"))
        context = {"user": user, "tenant": tenant, "days": days, "story": None}
        if user:
            async with transaction(self.ctx.sessions()) as session:
                context["story"] = await load_story(session, tenant, user, days)
        return await self.templates.TemplateResponse(request, "herald_admin/story.html", context)


def _days(raw: str | None) -> int:
    try:
        return max(1, min(MAX_DAYS, int(raw or DEFAULT_DAYS)))
    except ValueError:
        return DEFAULT_DAYS
