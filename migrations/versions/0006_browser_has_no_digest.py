"""the browser has no digest: settings asking for one, and items waiting for one, are undone

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 18:00:00

The API accepted a digest for the browser channel, but the sender has no browser digest: its
items became DIGESTED and the digest itself FAILED — silently lost. Since issue 17 the APIs
refuse it (422); this migrates what was stored before:

* browser preferences in ``digest`` mode become ``instant``;
* browser digest schedules are removed;
* browser deliveries waiting in ``DIGEST`` become ``PENDING`` (due now, the reason says why),
  so nothing stays waiting for a digest that will never come.

Downgrade changes nothing back: those rows described a digest that could never be delivered.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BROWSER = "browser"
RELEASED = "the browser has no digest, sent instantly; "
REASON_MAX_CHARS = 256

preferences = sa.table(
    "channel_preferences", sa.column("channel", sa.String), sa.column("mode", sa.String)
)
schedules = sa.table("digest_schedules", sa.column("channel", sa.String))
deliveries = sa.table(
    "deliveries",
    sa.column("channel", sa.String),
    sa.column("status", sa.String),
    sa.column("reason", sa.String),
    sa.column("next_attempt_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    op.execute(
        preferences.update()
        .where(preferences.c.channel == BROWSER, preferences.c.mode == "digest")
        .values(mode="instant")
    )
    op.execute(schedules.delete().where(schedules.c.channel == BROWSER))
    reason = sa.func.substr(sa.literal(RELEASED) + deliveries.c.reason, 1, REASON_MAX_CHARS)
    op.execute(
        deliveries.update()
        .where(deliveries.c.channel == BROWSER, deliveries.c.status == "DIGEST")
        .values(status="PENDING", next_attempt_at=datetime.now(UTC), reason=reason)
    )


def downgrade() -> None:
    pass  # nothing to restore: see the module docstring
