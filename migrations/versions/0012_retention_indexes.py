"""retention: the indexes the sweeper walks by (DESIGN §15)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 23:00:00

The retention sweeper (services/processor/retention.py) walks each tenant's oldest rows first:
(tenant, received_at) on events, (tenant, created_at) on notifications and deliveries. Deleting
a notification cascades to its deliveries, which needs every delivery of a notification by
``notification_id`` (``uq_deliveries_live`` is partial: it leaves SKIPPED rows out, and the
cascade would read the whole table for each notification).

On PostgreSQL the indexes are built CONCURRENTLY, outside the migration's transaction: a large
table keeps taking writes while they build (minutes on tens of millions of rows). If a build
fails it leaves an INVALID index: drop it and run ``herald migrate`` again.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_events_retention", "events", ["tenant", "received_at"]),
    ("ix_notifications_retention", "notifications", ["tenant", "created_at"]),
    ("ix_deliveries_retention", "deliveries", ["tenant", "created_at"]),
    ("ix_deliveries_notification", "deliveries", ["notification_id"]),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for name, table, columns in INDEXES:
            op.create_index(name, table, columns)
        return
    with op.get_context().autocommit_block():
        for name, table, columns in INDEXES:
            op.create_index(name, table, columns, postgresql_concurrently=True, if_not_exists=True)


def downgrade() -> None:
    for name, table, _columns in INDEXES:
        op.drop_index(name, table_name=table)
