"""configuration with tenant overrides: event types and templates per tenant, e-mail layouts

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 21:00:00

DESIGN §15: event types, templates and an e-mail layout exist globally (tenant NULL) and per
tenant; the most specific row wins (libs/common/catalog/overrides.py).

* ``event_types`` gets a surrogate ``id`` primary key and a ``tenant`` (the key alone is no
  longer unique: the global row and each tenant's override share it);
* ``templates`` gets a ``tenant``;
* both get two partial unique indexes instead of one key: one global row per key, one row per
  tenant and key (a unique constraint would let any number of NULL-tenant rows in);
* ``email_layouts`` is new: at most one global row and one per tenant.

Every existing row becomes the global one, so nothing changes until an override is added.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
GLOBAL_ROW = sa.text("tenant IS NULL")
TENANT_ROW = sa.text("tenant IS NOT NULL")


def _scoped_unique(table: str, *key: str) -> None:
    op.create_index(
        f"uq_{table}_global",
        table,
        list(key),
        unique=True,
        postgresql_where=GLOBAL_ROW,
        sqlite_where=GLOBAL_ROW,
    )
    op.create_index(
        f"uq_{table}_tenant",
        table,
        ["tenant", *key],
        unique=True,
        postgresql_where=TENANT_ROW,
        sqlite_where=TENANT_ROW,
    )


def _event_types_by_id() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("pk_event_types", "event_types", type_="primary")
        op.execute("ALTER TABLE event_types ADD COLUMN id BIGSERIAL NOT NULL")  # numbers the rows
        op.create_primary_key("pk_event_types", "event_types", ["id"])
        op.add_column("event_types", sa.Column("tenant", sa.String(128), nullable=True))
        return
    with op.batch_alter_table("event_types", recreate="always") as batch:
        # an INTEGER primary key is SQLite's rowid: the copied rows are numbered as they come
        batch.drop_constraint("pk_event_types", type_="primary")
        batch.add_column(sa.Column("id", sa.Integer(), nullable=False))
        batch.add_column(sa.Column("tenant", sa.String(128), nullable=True))
        batch.create_primary_key("pk_event_types", ["id"])


def upgrade() -> None:
    _event_types_by_id()
    _scoped_unique("event_types", "key")
    with op.batch_alter_table("templates") as batch:
        batch.add_column(sa.Column("tenant", sa.String(128), nullable=True))
        batch.drop_constraint("uq_templates_key", type_="unique")
    _scoped_unique("templates", "event_type", "channel", "locale")
    op.create_table(
        "email_layouts",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("tenant", sa.String(128), nullable=True),
        sa.Column("sender_name", sa.String(128), nullable=False),
        sa.Column("header_html", sa.Text(), nullable=False),
        sa.Column("footer_html", sa.Text(), nullable=False),
        sa.Column("header_text", sa.Text(), nullable=False),
        sa.Column("footer_text", sa.Text(), nullable=False),
        sa.Column("accent_color", sa.String(7), nullable=False),
        sa.Column("background_color", sa.String(7), nullable=False),
        sa.Column("text_color", sa.String(7), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_layouts")),
    )
    op.create_index(
        "uq_email_layouts_scope", "email_layouts", [sa.text("coalesce(tenant, '')")], unique=True
    )


def downgrade() -> None:
    """Back to global configuration only: tenant overrides are dropped."""
    op.drop_index("uq_email_layouts_scope", table_name="email_layouts")
    op.drop_table("email_layouts")
    for table in ("templates", "event_types"):
        op.execute(f"DELETE FROM {table} WHERE tenant IS NOT NULL")
        op.drop_index(f"uq_{table}_tenant", table_name=table)
        op.drop_index(f"uq_{table}_global", table_name=table)
    with op.batch_alter_table("templates") as batch:
        batch.drop_column("tenant")
        batch.create_unique_constraint("uq_templates_key", ["event_type", "channel", "locale"])
    with op.batch_alter_table("event_types", recreate="always") as batch:
        batch.drop_constraint("pk_event_types", type_="primary")
        batch.drop_column("id")
        batch.drop_column("tenant")
        batch.create_primary_key("pk_event_types", ["key"])
