"""What the retention sweeper walks and deletes (DESIGN §15): its settings, each tenant's
cutoffs, and one ``Walk`` per (table, tenant) — a page query by index and the delete of what of
a page qualifies. ``retention.py`` runs them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field
from sqlalchemy import Delete, and_, delete, exists, or_, select

from libs.common.db.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Digest,
    Escalation,
    Event,
    EventStatus,
    Notification,
    Reminder,
)
from libs.common.runtime.settings import HeraldSettings
from libs.common.tenancy.tenant_settings import RetentionDays

DAY = timedelta(days=1)
FINAL = [s.value for s in (DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.DENIED,
                           DeliveryStatus.SKIPPED, DeliveryStatus.DIGESTED)]  # fmt: skip
LIVE = [s.value for s in (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.DIGEST)]
DONE = [EventStatus.PROCESSED.value, EventStatus.FAILED.value]
REJECTED = EventStatus.REJECTED.value
REMINDERS_ENDED = ["sent", "cancelled"]  # never "scheduled" (reminder_store.py)
ESCALATIONS_ENDED = ["sent", "skipped", "stopped"]  # never "planned" (escalation_plan.py)


class RetentionSettings(HeraldSettings):
    retention_enabled: bool = Field(default=True, description="run the sweeper here")
    retention_interval_s: float = Field(default=300.0, gt=0, description="between sweeps")
    retention_batch: int = Field(
        default=1000, ge=1, le=10_000, description="rows a transaction looks at and deletes"
    )
    retention_pause_s: float = Field(
        default=0.02, ge=0, le=10, description="between two batches: the pipeline goes first"
    )
    retention_events_days: int = Field(default=180, ge=1, le=36_500)
    retention_notifications_days: int = Field(default=180, ge=1, le=36_500)
    retention_deliveries_days: int = Field(default=180, ge=1, le=36_500)
    retention_attempts_days: int = Field(default=180, ge=1, le=36_500)
    retention_rejected_days: int = Field(default=30, ge=1, le=36_500)
    retention_digests_days: int = Field(default=180, ge=1, le=36_500)
    retention_reminders_days: int = Field(default=180, ge=1, le=36_500)
    retention_escalations_days: int = Field(default=180, ge=1, le=36_500)


@dataclass(frozen=True)
class Cutoffs:
    """Rows older than these go (per table, for one tenant)."""

    events: datetime
    notifications: datetime
    deliveries: datetime
    attempts: datetime
    digests: datetime
    reminders: datetime
    escalations: datetime
    rejected: datetime

    @classmethod
    def of(cls, now: datetime, own: RetentionDays, s: RetentionSettings) -> Cutoffs:
        def days(mine: int | None, default: int) -> datetime:
            return now - (mine or default) * DAY

        return cls(
            events=days(own.events_days, s.retention_events_days),
            notifications=days(own.notifications_days, s.retention_notifications_days),
            deliveries=days(own.deliveries_days, s.retention_deliveries_days),
            attempts=days(own.attempts_days, s.retention_attempts_days),
            digests=days(own.digests_days, s.retention_digests_days),
            reminders=days(own.reminders_days, s.retention_reminders_days),
            escalations=days(own.escalations_days, s.retention_escalations_days),
            rejected=days(own.rejected_days, s.retention_rejected_days),
        )


Page = Sequence[Any]  # the ids of one page of the walk
Key = tuple[datetime, Any]  # (time, id): where a walk goes on from


@dataclass(frozen=True)
class Walk:
    """One table's expired rows of one tenant, walked oldest first by ``walked``'s
    (tenant, time) index; ``doomed(page)`` deletes what of a page qualifies (checked again
    there: a row may have changed since the page was read)."""

    table: str  # the metric label
    tenant: str | None
    walked: Any  # the model walked: Event, Notification, Delivery, Digest, Reminder, Escalation
    cutoff: datetime
    doomed: Callable[[Page], Delete]
    stamp: Any = None  # the time column walked (None: received_at of events, else created_at)
    only: Any = None  # what every walked row meets (a status): a partial index serves it

    def page(self, after: Key | None, limit: int) -> Any:
        stamp = _time(self.walked) if self.stamp is None else self.stamp
        ident, tenant = self.walked.id, self.walked.tenant
        mine = tenant.is_(None) if self.tenant is None else tenant == self.tenant
        stmt = select(ident, stamp).where(mine, stamp < self.cutoff)
        if self.only is not None:
            stmt = stmt.where(self.only)
        if after is not None:
            stmt = stmt.where(or_(stamp > after[0], and_(stamp == after[0], ident > after[1])))
        return stmt.order_by(stamp, ident).limit(limit)


def _time(model: Any) -> Any:
    return model.received_at if model is Event else model.created_at


def tenant_walks(tenant: str, cut: Cutoffs) -> list[Walk]:
    live = exists().where(Delivery.notification_id == Notification.id, Delivery.status.in_(LIVE))
    # a planned escalation step needs its notification (the step would cascade away with it)
    planned = exists().where(Escalation.notification_id == Notification.id,
                             Escalation.status.not_in(ESCALATIONS_ENDED))  # fmt: skip
    noted = exists().where(Notification.event_id == Event.id)
    events_cut = min(cut.events, cut.notifications)  # an event outlives its notifications
    return [
        Walk("delivery_attempts", tenant, Delivery, cut.attempts, lambda ids: delete(
            DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(ids),
                                   DeliveryAttempt.at < cut.attempts)),
        Walk("deliveries", tenant, Delivery, cut.deliveries, lambda ids: delete(Delivery).where(
            Delivery.id.in_(ids), Delivery.status.in_(FINAL))),
        Walk("notifications", tenant, Notification, cut.notifications, lambda ids: delete(
            Notification).where(Notification.id.in_(ids), ~live, ~planned)),
        Walk("events", tenant, Event, events_cut, lambda ids: delete(Event).where(
            Event.id.in_(ids), Event.status.in_(DONE), ~noted)),
        *history_walks(tenant, cut),
        rejected_walk(cut.rejected, tenant),
    ]  # fmt: skip


def history_walks(tenant: str, cut: Cutoffs) -> list[Walk]:
    """The per-user history that would otherwise grow forever: digests built (never one whose
    own delivery is still to be sent), reminders sent or cancelled, escalation steps that
    ended — by when they ended (``updated_at``), never a scheduled or planned one."""
    sending = exists().where(Delivery.id == Digest.delivery_id, Delivery.status.in_(LIVE))
    fired, ended = Reminder.status.in_(REMINDERS_ENDED), Escalation.status.in_(ESCALATIONS_ENDED)
    return [
        Walk("digests", tenant, Digest, cut.digests, lambda ids: delete(Digest).where(
            Digest.id.in_(ids), ~sending)),
        Walk("reminders", tenant, Reminder, cut.reminders, lambda ids: delete(Reminder).where(
            Reminder.id.in_(ids), fired, Reminder.updated_at < cut.reminders),
             stamp=Reminder.updated_at, only=fired),
        Walk("escalations", tenant, Escalation, cut.escalations, lambda ids: delete(
            Escalation).where(Escalation.id.in_(ids), ended,
                              Escalation.updated_at < cut.escalations),
             stamp=Escalation.updated_at, only=ended),
    ]  # fmt: skip


def rejected_walk(cutoff: datetime, tenant: str | None = None) -> Walk:
    """Rejected rows of ``tenant`` (None: those naming no registered tenant)."""
    rejected = Event.status == REJECTED
    return Walk("rejected", tenant, Event, cutoff, lambda ids: delete(Event).where(
        Event.id.in_(ids), rejected), only=rejected)  # fmt: skip
