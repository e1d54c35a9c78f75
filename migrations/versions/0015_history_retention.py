"""retention of the history tables and of rejected rows per tenant (DESIGN §15)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 17:10:00

The retention sweeper (services/processor/retention_walks.py) now also walks each tenant's
digests (by ``created_at``), reminders and escalation steps (by ``updated_at``: when they were
sent, cancelled, skipped or stopped), oldest first, and the rejected rows of each tenant (a
rejected row keeps the registered tenant it names, else NULL): a partial index over rejected
rows only, so that walk never reads the tenant's accepted events.

As in 0012 the indexes are built CONCURRENTLY on PostgreSQL, outside the migration's
transaction; a failed build leaves an INVALID index: drop it and run ``herald migrate`` again.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REJECTED = sa.text("status = 'rejected'")
INDEXES: tuple[tuple[str, str, list[str], dict[str, Any]], ...] = (
    ("ix_digests_retention", "digests", ["tenant", "created_at"], {}),
    ("ix_reminders_retention", "reminders", ["tenant", "updated_at"], {}),
    ("ix_escalations_retention", "escalations", ["tenant", "updated_at"], {}),
    (
        "ix_events_rejected",
        "events",
        ["tenant", "received_at"],
        {"postgresql_where": REJECTED, "sqlite_where": REJECTED},
    ),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for name, table, columns, kw in INDEXES:
            op.create_index(name, table, columns, **kw)
        return
    with op.get_context().autocommit_block():
        for name, table, columns, kw in INDEXES:
            op.create_index(
                name, table, columns, postgresql_concurrently=True, if_not_exists=True, **kw
            )


def downgrade() -> None:
    for name, table, _columns, _kw in INDEXES:
        op.drop_index(name, table_name=table)
