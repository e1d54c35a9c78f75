"""The rows the processor writes (services/processor/pipeline.py): the TypedDicts name
exactly the columns the writer inserts, and the builders fill each of them; pure."""

from __future__ import annotations

from datetime import UTC, datetime

from libs.common.db.models import DeliveryRow, DeliveryStatus
from libs.common.schemas.envelope import EventEnvelope
from libs.common.templating.templates import Rendered
from services.processor.channels import Planned
from services.processor.pipeline import (
    Loaded,
    NotificationRow,
    PersonPlan,
    delivery_rows,
    notification_row,
)
from services.processor.writer import DELIVERY_COLUMNS, NOTIFICATION_COLUMNS

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
ENV = EventEnvelope.model_validate(
    {
        "id": "e-1", "source": "tenders", "type": "tender.changed", "tenant": "acme",
        "project_id": "P-42", "entity": {"type": "tender", "id": "T-1"},
        "recipients": {"assignee": ["u-1"]}, "priority": "critical",
        "occurred_at": "2026-12-01T11:00:00Z", "payload": {},
    }
)  # fmt: skip
EVENT = Loaded("ev-9", ENV, NOW)
INBOX = Rendered("Inbox subject", "Inbox body")
EMAIL = Rendered("Mail subject", "Mail body", "<p>Mail body</p>")


def _plan() -> PersonPlan:
    return PersonPlan(
        "u-1", "direct:assignee" + "x" * 300, INBOX,
        [(Planned("email", DeliveryStatus.PENDING, "direct:assignee"), EMAIL),
         (Planned("telegram", DeliveryStatus.SKIPPED, "no telegram chat"), INBOX)],
    )  # fmt: skip


def test_the_row_types_name_the_columns_the_writer_inserts() -> None:
    assert NotificationRow.__required_keys__ == frozenset(NOTIFICATION_COLUMNS)
    assert DeliveryRow.__required_keys__ == frozenset(DELIVERY_COLUMNS)


def test_a_notification_row_carries_the_event_and_the_inbox_text() -> None:
    assert notification_row(EVENT, _plan(), NOW) == {
        "tenant": "acme", "event_id": "ev-9", "user_id": "u-1",
        "reason": ("direct:assignee" + "x" * 300)[:256], "source": "tenders",
        "type": "tender.changed", "entity_type": "tender", "entity_id": "T-1",
        "project_id": "P-42", "priority": "critical", "title": "Inbox subject",
        "body": "Inbox body", "created_at": NOW,
    }  # fmt: skip


def test_delivery_rows_are_due_now_when_pending_and_empty_when_skipped() -> None:
    pending, skipped = delivery_rows(EVENT, _plan(), 7, NOW)
    assert pending == {
        "notification_id": 7, "tenant": "acme", "user_id": "u-1", "source": "tenders",
        "channel": "email", "status": "PENDING", "reason": "direct:assignee",
        "subject": "Mail subject", "body": "Mail body", "body_html": "<p>Mail body</p>",
        "attempts": 0, "next_attempt_at": NOW, "created_at": NOW,
    }  # fmt: skip
    assert (skipped["status"], skipped["body"], skipped["next_attempt_at"]) == ("SKIPPED", "", None)
    assert skipped["subject"] == "Inbox subject"
