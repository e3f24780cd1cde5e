"""Directory ("Wegweiser"): services and events, and services suggested to people

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import market.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "directory_entries",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("organisation_id", sa.String(length=32), nullable=True),
        sa.Column("organisation_name", sa.String(length=120), nullable=False),
        sa.Column("author_id", sa.String(length=32), nullable=True),
        sa.Column("topics", sa.String(length=400), nullable=False),
        sa.Column("languages", sa.String(length=400), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("address", sa.String(length=200), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("region_id", sa.String(length=32), nullable=True),
        sa.Column("opening_hours", sa.JSON(), nullable=False),
        sa.Column("starts_at", market.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ends_at", market.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("website", sa.String(length=300), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("published_at", market.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("confirmed_at", market.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("confirm_asked_at", market.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("archived_at", market.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("updated_at", market.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", market.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["users.id"],
            name=op.f("fk_directory_entries_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_directory_entries_organisation_id_organisations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["regions.id"],
            name=op.f("fk_directory_entries_region_id_regions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_entries")),
    )
    op.create_index(
        "ix_directory_entries_kind_status", "directory_entries", ["kind", "status"], unique=False
    )
    op.create_index(
        "ix_directory_entries_region_status",
        "directory_entries",
        ["region_id", "status"],
        unique=False,
    )
    op.create_index(
        op.f("ix_directory_entries_organisation_id"),
        "directory_entries",
        ["organisation_id"],
        unique=False,
    )
    op.create_table(
        "directory_referrals",
        sa.Column("entry_id", sa.String(length=32), nullable=False),
        sa.Column("to_user_id", sa.String(length=32), nullable=False),
        sa.Column("from_user_id", sa.String(length=32), nullable=True),
        sa.Column("post_id", sa.String(length=32), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("created_at", market.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["directory_entries.id"],
            name=op.f("fk_directory_referrals_entry_id_directory_entries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["from_user_id"],
            ["users.id"],
            name=op.f("fk_directory_referrals_from_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["posts.id"],
            name=op.f("fk_directory_referrals_post_id_posts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["to_user_id"],
            ["users.id"],
            name=op.f("fk_directory_referrals_to_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_referrals")),
    )
    op.create_index(
        op.f("ix_directory_referrals_entry_id"), "directory_referrals", ["entry_id"], unique=False
    )
    op.create_index(
        op.f("ix_directory_referrals_to_user_id"),
        "directory_referrals",
        ["to_user_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_directory_referrals_to_user_id"), table_name="directory_referrals")
    op.drop_index(op.f("ix_directory_referrals_entry_id"), table_name="directory_referrals")
    op.drop_table("directory_referrals")
    op.drop_index(op.f("ix_directory_entries_organisation_id"), table_name="directory_entries")
    op.drop_index("ix_directory_entries_region_status", table_name="directory_entries")
    op.drop_index("ix_directory_entries_kind_status", table_name="directory_entries")
    op.drop_table("directory_entries")
