"""inbox access state and per-user notification cursors

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 13:50:00

* ``notifications.access``: the outcome of the notification's first permission check
  (NULL = not checked yet, ``allowed``, ``denied``). The inbox shows only ``allowed`` items
  (DESIGN §13: no surface shows an object the user may not read).
* ``notifications.user_seq`` and ``user_sequences``: a per-user sequence assigned under the
  user's row lock in the processor's transaction, so for one user the values commit in order
  and "everything after cursor N" can never miss a row that commits later (DESIGN §8).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "user_sequences",
        sa.Column("tenant", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant", "user_id", name=op.f("pk_user_sequences")),
    )
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("access", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("user_seq", sa.BigInteger(), nullable=True))
    op.create_index(
        "ix_notifications_user_seq",
        "notifications",
        ["tenant", "user_id", "user_seq"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_user_seq", table_name="notifications")
    with op.batch_alter_table("notifications") as batch:
        batch.drop_column("user_seq")
        batch.drop_column("access")
    op.drop_table("user_sequences")
