"""subscriptions.types: the event types a subscription follows (issue 19)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 21:00:00

A subscription may follow only some event types of its entity type (``["remark.created",
"remark.reassigned"]``); the empty list, every existing row's value, keeps following all of them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Json = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.add_column(sa.Column("types", Json, nullable=False, server_default=sa.text("'[]'")))


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_column("types")
