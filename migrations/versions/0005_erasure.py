"""Erasure: the outbox remembers when a mail's copy was redacted

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04

Delivered (or abandoned) mail keeps its address, subject and bodies in `outbox.payload` only
for 30 days (market.maintenance, notifications.outbox.redact_mail_copies); `redacted_at` says
that it was done, and a partial index holds only the rows still to do.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import market.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("redacted_at", market.db.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_unredacted",
            ["status", "done_at"],
            unique=False,
            postgresql_where=sa.text("redacted_at IS NULL"),
            sqlite_where=sa.text("redacted_at IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_unredacted")
        batch_op.drop_column("redacted_at")
