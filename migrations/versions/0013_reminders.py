"""reminders: deadline reminders of saved-filter subscriptions (issue 19)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 23:00:00

``subscriptions.remind`` (``{"field": "deadline", "days_before": 7}``, NULL for none) asks
for a reminder before a date of each matching entity; ``reminders`` holds one row per
(subscription, entity): scheduled, sent or cancelled, claimed by the processor with
``FOR UPDATE SKIP LOCKED`` when due (``ix_reminders_due``) and found again by entity when a
later event moves or cancels it (``ix_reminders_entity``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Json = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
TZ = sa.DateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("remind", Json, nullable=True))
    op.create_table(
        "reminders",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=128), nullable=False),
        sa.Column("subscription_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("entity_type", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=128), nullable=False),
        sa.Column("project_id", sa.String(length=128), nullable=True),
        sa.Column("due", sa.String(length=64), nullable=False),
        sa.Column("fire_at", TZ, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=256), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("event_time", TZ, nullable=False),
        sa.Column("notification_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminders")),
        sa.UniqueConstraint(
            "subscription_id", "entity_id", name="uq_reminders_subscription_entity"
        ),
    )
    op.create_index("ix_reminders_due", "reminders", ["status", "fire_at"])
    op.create_index(
        "ix_reminders_entity", "reminders", ["tenant", "source", "entity_type", "entity_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_reminders_entity", table_name="reminders")
    op.drop_index("ix_reminders_due", table_name="reminders")
    op.drop_table("reminders")
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("remind")
