"""Follow-through: match waiting clock, decline reasons, outcomes, availability

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import market.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MATCH_COLUMNS = (
    ("reminded_at", market.db.UTCDateTime(timezone=True)),
    ("stalled_at", market.db.UTCDateTime(timezone=True)),
    ("expired_at", market.db.UTCDateTime(timezone=True)),
    ("first_contact_seconds", sa.Integer()),
    ("decline_reason", sa.String(16)),
    ("decline_note", sa.String(500)),
    ("outcome_asked_at", market.db.UTCDateTime(timezone=True)),
    ("offer_met", sa.Boolean()),
    ("offer_met_at", market.db.UTCDateTime(timezone=True)),
    ("need_met", sa.Boolean()),
    ("need_met_at", market.db.UTCDateTime(timezone=True)),
    ("outcome_note", sa.String(500)),
)


def upgrade() -> None:
    with op.batch_alter_table("matches", schema=None) as batch_op:
        for name, type_ in _MATCH_COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
        # The hourly rules look for proposed matches by age, and connected ones by age.
        batch_op.create_index("ix_matches_status_created", ["status", "created_at"], unique=False)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("available", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(
            sa.Column("expired_proposals", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("paused_at", market.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("paused_at")
        batch_op.drop_column("expired_proposals")
        batch_op.drop_column("available")
    with op.batch_alter_table("matches", schema=None) as batch_op:
        batch_op.drop_index("ix_matches_status_created")
        for name, _ in reversed(_MATCH_COLUMNS):
            batch_op.drop_column(name)
