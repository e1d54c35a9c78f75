"""tenants: the registry of customer environments (DESIGN §15)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 20:00:00

Until now any string in an event created a tenant. From here on ingest refuses an event, and
the user API and the websocket a token, of a tenant that is not in ``tenants`` or is disabled.
So that an upgrade does not shut anyone out, the registry starts with ``default`` and every
tenant the data already names (events, recipients, subscriptions), all enabled; the operator
then disables what should not be there (``herald tenant disable``). Listing the events'
tenants reads the whole table once (an index-only scan where PostgreSQL can).
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_TENANT = "default"
TZ = sa.DateTime(timezone=True)
Json = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")
KNOWN = (
    "SELECT DISTINCT tenant FROM events WHERE tenant IS NOT NULL "
    "UNION SELECT DISTINCT tenant FROM recipients "
    "UNION SELECT DISTINCT tenant FROM subscriptions"
)


def upgrade() -> None:
    tenants = op.create_table(
        "tenants",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("settings", Json, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_tenants")),
    )
    found = {row[0] for row in op.get_bind().execute(sa.text(KNOWN))}
    now = datetime.now(UTC)
    op.bulk_insert(
        tenants,
        [
            {
                "key": key,
                "name": key,
                "enabled": True,
                "settings": {},
                "created_at": now,
                "updated_at": now,
            }
            for key in sorted(found | {DEFAULT_TENANT})
        ],
    )


def downgrade() -> None:
    op.drop_table("tenants")
