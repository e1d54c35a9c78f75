"""inbox visibility: the unread index covers only visible items; backfill notifications.access

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 15:00:00

* ``ix_notifications_unread`` (the counters and unread pages) gains ``access = 'allowed'``:
  the inbox shows only visible items (libs/common/inbox/access.py), and the counters stay an
  index-only scan over exactly those.
* ``ix_notifications_unchecked``: the few rows not checked yet, for the sender's visibility
  checker (a partial index: it stays as small as the backlog).
* Backfill of the rows that existed before ``access`` (0002 added it as NULL): ``denied`` when
  one of its deliveries was DENIED; else ``allowed`` when one was SENT or DIGESTED (its
  object was checked at send or digest-build time and the user was told about it); every
  other row (only pending, digest-waiting, skipped or failed deliveries, or none) stays NULL
  and the visibility checker asks the mediator about it within seconds of the upgrade.
  Backfilled rows get no websocket cursor value: they are older than any cursor a page holds.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNREAD_BEFORE = "read_at IS NULL AND archived_at IS NULL"
UNREAD_VISIBLE = "read_at IS NULL AND archived_at IS NULL AND access = 'allowed'"
UNCHECKED = "access IS NULL"

BACKFILL = """
UPDATE notifications SET access = :access
WHERE access IS NULL AND EXISTS (
    SELECT 1 FROM deliveries
    WHERE deliveries.notification_id = notifications.id AND deliveries.status IN ({statuses})
)"""


def _backfill() -> None:
    # denials first: a notification both sent and later denied stays hidden
    for access, statuses in (("denied", "'DENIED'"), ("allowed", "'SENT', 'DIGESTED'")):
        op.execute(sa.text(BACKFILL.format(statuses=statuses)).bindparams(access=access))


def _unread_index(where: str) -> None:
    op.create_index(
        "ix_notifications_unread",
        "notifications",
        ["tenant", "user_id", "id"],
        unique=False,
        postgresql_include=["source"],
        postgresql_where=sa.text(where),
        sqlite_where=sa.text(where),
    )


def upgrade() -> None:
    _backfill()
    op.drop_index("ix_notifications_unread", table_name="notifications")
    _unread_index(UNREAD_VISIBLE)
    op.create_index(
        "ix_notifications_unchecked",
        "notifications",
        ["id"],
        unique=False,
        postgresql_where=sa.text(UNCHECKED),
        sqlite_where=sa.text(UNCHECKED),
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_unchecked", table_name="notifications")
    op.drop_index("ix_notifications_unread", table_name="notifications")
    _unread_index(UNREAD_BEFORE)
