"""Retention: stale needs, inactive accounts, police-certificate facts

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import market.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Needs that may be stale (market.retention): the open question and the last answer.
    op.create_table(
        "need_confirmations",
        sa.Column("post_id", sa.String(length=32), nullable=False),
        sa.Column("asked_at", market.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("confirmed_at", market.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", market.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_need_confirmations_post_id_posts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("post_id", name=op.f("pk_need_confirmations")),
    )
    op.create_index(
        op.f("ix_need_confirmations_asked_at"), "need_confirmations", ["asked_at"], unique=False
    )
    # Inactive accounts (market.retention): the warnings sent and the activity they were about.
    op.create_table(
        "account_retention",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("stage", sa.Integer(), nullable=False),
        sa.Column("active_at", market.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("first_warned_at", market.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_account_retention_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_account_retention")),
    )


def downgrade() -> None:
    op.drop_table("account_retention")
    op.drop_index(op.f("ix_need_confirmations_asked_at"), table_name="need_confirmations")
    op.drop_table("need_confirmations")
