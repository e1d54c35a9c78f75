"""The data model of DESIGN §4, one module per domain. One Alembic history covers it
(migrations/). Import the tables from here: ``from libs.common.db.models import Event``."""

from libs.common.db.models.admin import AdminLoginThrottle, AdminSession, AdminUser
from libs.common.db.models.base import NAMING, TZ, Base, BigId, Json, new_uuid, utcnow
from libs.common.db.models.configuration import (
    GLOBAL_ROW,
    TENANT_ROW,
    EmailLayout,
    EventType,
    Template,
    Tenant,
    one_row_per_scope,
)
from libs.common.db.models.deliveries import (
    Delivery,
    DeliveryAttempt,
    DeliveryRow,
    DeliveryStatus,
)
from libs.common.db.models.digests import Digest, DigestSchedule
from libs.common.db.models.directory import Recipient, RecipientProject, TelegramLink
from libs.common.db.models.escalations import Escalation
from libs.common.db.models.events import Event, EventStatus
from libs.common.db.models.notifications import UNREAD_VISIBLE, Notification, UserSequence
from libs.common.db.models.subscriptions import ChannelPreference, Reminder, Subscription

__all__ = [
    "GLOBAL_ROW",
    "NAMING",
    "TENANT_ROW",
    "TZ",
    "UNREAD_VISIBLE",
    "AdminLoginThrottle",
    "AdminSession",
    "AdminUser",
    "Base",
    "BigId",
    "ChannelPreference",
    "Delivery",
    "DeliveryAttempt",
    "DeliveryRow",
    "DeliveryStatus",
    "Digest",
    "DigestSchedule",
    "EmailLayout",
    "Escalation",
    "Event",
    "EventStatus",
    "EventType",
    "Json",
    "Notification",
    "Recipient",
    "RecipientProject",
    "Reminder",
    "Subscription",
    "TelegramLink",
    "Template",
    "Tenant",
    "UserSequence",
    "new_uuid",
    "one_row_per_scope",
    "utcnow",
]
