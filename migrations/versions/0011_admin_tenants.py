"""tenant-scoped admin accounts: admin_users.tenants (DESIGN §15)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 22:00:00

An admin account is global (``tenants`` NULL: every tenant, and what belongs to none — the
global configuration, rejected messages, dead letters) or bound to a list of tenants, and then
sees and edits only their rows on every admin page, action and export
(services/ingest/admin/scope.py). Existing accounts stay global.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Json = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("admin_users") as batch:
        batch.add_column(sa.Column("tenants", Json, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("admin_users") as batch:
        batch.drop_column("tenants")
