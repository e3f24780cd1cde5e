"""An index the statistics read the needs of a period from.

Revision ID: 0020
Revises: 0019

market.stats counts the needs created in a period by category and region (and joins their
languages and first connections). Without this index PostgreSQL read the whole posts table for
it (a sequential scan of 240,000 wide rows, 0.55 s of a 0.9 s query at 200,000 published posts);
with (kind, created_at) and the columns the query reads INCLUDEd it is an index-only scan
(35 ms; the query 0.24 s). SQLite ignores INCLUDE: there it is a plain index on (kind,
created_at).
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

INCLUDE = ["status", "category", "region_id", "id"]


def upgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_posts_kind_created_cover",
            ["kind", "created_at"],
            unique=False,
            postgresql_include=INCLUDE,
        )


def downgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.drop_index("ix_posts_kind_created_cover", postgresql_include=INCLUDE)
