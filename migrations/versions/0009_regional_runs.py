"""Regional runs: confirming a matching run and the unmatched view, as jobs with progress

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import market.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "regional_runs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("region_id", sa.String(length=32), nullable=True),
        sa.Column("requested_by", sa.String(length=32), nullable=True),
        sa.Column("plan_id", sa.String(length=64), nullable=True),
        sa.Column("dedupe_key", sa.String(length=120), nullable=True),
        sa.Column("step", sa.String(length=20), nullable=True),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("created_at", market.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", market.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"],
            name=op.f("fk_regional_runs_region_id_regions"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["users.id"],
            name=op.f("fk_regional_runs_requested_by_users"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regional_runs")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_regional_runs_dedupe_key")),
    )
    op.create_index(
        "ix_regional_runs_kind_region_created",
        "regional_runs",
        ["kind", "region_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_regional_runs_kind_region_created", table_name="regional_runs")
    op.drop_table("regional_runs")
