"""admin login throttle: attempts per account and per client address

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 16:00:00

``admin_login_throttle`` holds, per key (``account:<username>`` or ``address:<ip or IPv6
/64>``), the attempts counted, until when the key is blocked, and when it was last tried —
in the database so every ingest process applies the same limits
(services/ingest/admin/throttle.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "admin_login_throttle",
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("blocked_until", sa.Float(), nullable=False),
        sa.Column("last_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_admin_login_throttle")),
    )
    op.create_index(op.f("ix_admin_login_throttle_last_at"), "admin_login_throttle", ["last_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_admin_login_throttle_last_at"), table_name="admin_login_throttle")
    op.drop_table("admin_login_throttle")
