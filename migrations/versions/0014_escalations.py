"""escalations: escalation chains of event types and their steps (issue 17)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 17:00:00

``event_types.escalation`` (``[{"channel": "email", "after_minutes": 10}, …]``, empty for none)
names the chain a critical notification left unread walks through; ``escalations`` holds one
row per (notification, step): planned, then sent, skipped or stopped, claimed by the processor
with ``FOR UPDATE SKIP LOCKED`` when due (``ix_escalations_due``). Deleting a notification
(retention) deletes its steps.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Json = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
TZ = sa.DateTime(timezone=True)
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("event_types") as batch:
        batch.add_column(
            sa.Column("escalation", Json, nullable=False, server_default=sa.text("'[]'"))
        )
    op.create_table(
        "escalations",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(length=128), nullable=False),
        sa.Column("notification_id", sa.BigInteger(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("after_minutes", sa.Integer(), nullable=False),
        sa.Column("fire_at", TZ, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=256), nullable=False),
        sa.Column("delivery_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_escalations_notification_id_notifications"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_escalations")),
        sa.UniqueConstraint("notification_id", "step", name="uq_escalations_notification_step"),
    )
    op.create_index("ix_escalations_due", "escalations", ["status", "fire_at"])


def downgrade() -> None:
    op.drop_index("ix_escalations_due", table_name="escalations")
    op.drop_table("escalations")
    with op.batch_alter_table("event_types") as batch:
        batch.drop_column("escalation")
