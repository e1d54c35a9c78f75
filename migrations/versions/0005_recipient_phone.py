"""recipients.phone: where a person gets SMS (E.164)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 14:30:00

The SMS channel (libs/common/delivery/channels.py) reaches a person at ``recipients.phone``, an
E.164 number (``+`` and at most 15 digits) validated by ``RecipientFields``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("recipients") as batch:
        batch.add_column(sa.Column("phone", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recipients") as batch:
        batch.drop_column("phone")
