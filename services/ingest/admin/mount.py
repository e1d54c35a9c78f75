"""Mounting the admin UI (sqladmin) on the ingest app at /admin (DESIGN §1, issue 10).

Imported by ``mount_admin`` (``__init__.py``) only when the admin is on: sqladmin, WTForms
and the views cost the ingest process about 10 MiB (DESIGN §12)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqladmin import Admin, BaseView, ModelView
from starlette.applications import Starlette
from starlette.middleware import Middleware

from services.ingest.admin.auth import AdminAccounts, AdminAuth
from services.ingest.admin.catalog_views import (
    ChannelPreferenceAdmin,
    DigestScheduleAdmin,
    EventTypeAdmin,
    RecipientAdmin,
    SubscriptionAdmin,
)
from services.ingest.admin.context import AdminContext, LateBoundSessions
from services.ingest.admin.csrf import SameOriginMiddleware
from services.ingest.admin.dead_letters_view import DeadLettersView
from services.ingest.admin.deliveries_views import DeliveryAdmin
from services.ingest.admin.events_views import EventAdmin, RejectedAdmin
from services.ingest.admin.layouts_view import EmailLayoutAdmin
from services.ingest.admin.scope import TenantAuthorization
from services.ingest.admin.settings import AdminSettings
from services.ingest.admin.story_view import StoryView
from services.ingest.admin.templates_views import TemplateAdmin
from services.ingest.admin.tenants_view import TenantAdmin

BASE_URL = "/admin"
TEMPLATES_DIR = Path(__file__).parent / "templates"
VIEWS: tuple[type[ModelView] | type[BaseView], ...] = (
    TenantAdmin,
    EventTypeAdmin,
    TemplateAdmin,
    EmailLayoutAdmin,
    RecipientAdmin,
    SubscriptionAdmin,
    ChannelPreferenceAdmin,
    DigestScheduleAdmin,
    EventAdmin,
    RejectedAdmin,
    DeliveryAdmin,
    StoryView,
    DeadLettersView,
)


def mount(app: Starlette, settings: AdminSettings) -> Admin:
    """Mount /admin (HERALD_ADMIN_SESSION_SECRET is set)."""
    ctx = AdminContext(app)
    sessions = LateBoundSessions(ctx)
    admin = Admin(
        app,
        session_maker=sessions,
        base_url=BASE_URL,
        title="Herald admin",
        templates_dir=str(TEMPLATES_DIR),
        middlewares=[Middleware(SameOriginMiddleware)],
        authentication_backend=AdminAuth(settings, AdminAccounts(settings, ctx.sessions), BASE_URL),
        authorization_backend=TenantAuthorization(),  # tenant-bound accounts (DESIGN §15)
    )
    for view in VIEWS:
        # sqladmin keeps per-admin state on the view class: give each mounted admin its own
        bound: Any = type(view.__name__, (view,), {"ctx": ctx})
        admin.add_view(bound)
    return admin
