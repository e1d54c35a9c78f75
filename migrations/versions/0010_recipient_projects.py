"""recipient_projects: roles and companies per project (issue 19)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 22:00:00

``roles_any`` / ``companies_any`` and an event's ``audience`` are evaluated in the event's
project: a person holds their roles everywhere (``recipients.roles``) plus the ones of that
project, and that project's company if one is set. Nobody has a membership yet, so everyone
keeps matching as before until the directory sends ``projects``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Json = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "recipient_projects",
        sa.Column("tenant", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("project_id", sa.String(length=128), nullable=False),
        sa.Column("roles", Json, nullable=False),
        sa.Column("company_id", sa.String(length=128), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant", "user_id", "project_id", name=op.f("pk_recipient_projects")
        ),
    )
    op.create_index("ix_recipient_projects_project", "recipient_projects", ["tenant", "project_id"])


def downgrade() -> None:
    op.drop_index("ix_recipient_projects_project", table_name="recipient_projects")
    op.drop_table("recipient_projects")
